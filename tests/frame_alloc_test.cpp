// Tests for the frame allocator (detail/frame_alloc.hpp, src/coroutine/frame_alloc.cpp): the memory
// of every coroutine frame and threaded-call job. Its contract: blocks are reused by size class,
// may be freed on any thread (also one that then exits), and sizes past the classes go to operator
// new. Deterministic: no timing, only addresses and contents.

#include <kaa/detail/frame_alloc.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

namespace {

using kaa::detail::frame_alloc;
using kaa::detail::frame_free;

constexpr std::size_t kFrame = 272;  // a typical frame: class of 272 bytes
// Classes no coroutine of the other tests uses: their free lists start empty here (a list of
// malloc'd blocks keeps at most 65,536, so a busy class could send frees to operator delete).
constexpr std::size_t kRare = 4000;

// A burst of live blocks, freed, then allocated again: the second burst reuses the first one's
// memory (the free lists hand it back) and every block is usable over its whole size.
TEST(FrameAlloc, BurstIsReusedAfterItWasFreed) {
    constexpr int kBlocks = 10'000;
    std::vector<void*> first;
    first.reserve(kBlocks);
    for (int i = 0; i < kBlocks; ++i) {
        void* p = frame_alloc(kRare);
        ASSERT_NE(p, nullptr);
        std::memset(p, i & 0xff, kRare);
        first.push_back(p);
    }
    for (int i = 0; i < kBlocks; ++i) {
        EXPECT_EQ(static_cast<unsigned char*>(first[static_cast<std::size_t>(i)])[kRare - 1],
                  static_cast<unsigned char>(i & 0xff));
    }
    EXPECT_EQ(std::set<void*>(first.begin(), first.end()).size(), first.size());  // distinct
    for (void* p : first) frame_free(p, kRare);

    const std::set<void*> freed(first.begin(), first.end());
    std::vector<void*> second;
    second.reserve(kBlocks);
    for (int i = 0; i < kBlocks; ++i) second.push_back(frame_alloc(kRare));
    const auto reused = std::count_if(second.begin(), second.end(),
                                      [&](void* p) { return freed.count(p) != 0; });
    EXPECT_EQ(reused, kBlocks);
    for (void* p : second) frame_free(p, kRare);
}

// Sizes of the same 16-byte class share blocks; a different class does not get them.
TEST(FrameAlloc, SizeClassesAreSixteenBytes) {
    void* a = frame_alloc(2985);
    frame_free(a, 2985);
    void* b = frame_alloc(2992);  // same class as 2985 (2977..2992)
    EXPECT_EQ(a, b);
    frame_free(b, 2992);
    void* c = frame_alloc(3008);  // the next class
    EXPECT_NE(c, b);
    frame_free(c, 3008);
}

// Blocks freed on another thread, which then exits: its cache is released without touching
// blocks still in use elsewhere, and allocation keeps working on both sides.
TEST(FrameAlloc, BlocksFreedOnAnExitingThread) {
    constexpr int kBlocks = 10'000;
    std::vector<void*> blocks;
    for (int i = 0; i < kBlocks; ++i) blocks.push_back(frame_alloc(kFrame));
    void* kept = frame_alloc(kFrame);
    std::memset(kept, 0x5a, kFrame);
    std::thread([&] {
        for (void* p : blocks) frame_free(p, kFrame);
        void* q = frame_alloc(kFrame);  // served from what this thread just freed
        EXPECT_NE(std::find(blocks.begin(), blocks.end(), q), blocks.end());
        frame_free(q, kFrame);
    }).join();
    EXPECT_EQ(static_cast<unsigned char*>(kept)[0], 0x5a);
    EXPECT_EQ(static_cast<unsigned char*>(kept)[kFrame - 1], 0x5a);
    frame_free(kept, kFrame);
    void* again = frame_alloc(kFrame);
    std::memset(again, 1, kFrame);
    frame_free(again, kFrame);
}

// Sizes past the largest class (4 KiB) bypass the free lists.
TEST(FrameAlloc, LargeFramesUseOperatorNew) {
    constexpr std::size_t kLarge = 64 * 1024;
    void* p = frame_alloc(kLarge);
    std::memset(p, 7, kLarge);
    frame_free(p, kLarge);
    void* q = frame_alloc(kLarge);
    std::memset(q, 8, kLarge);
    frame_free(q, kLarge);
}

}  // namespace
