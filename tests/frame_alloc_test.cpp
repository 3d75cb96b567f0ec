// Tests for the frame allocator (detail/frame_alloc.hpp, src/coroutine/frame_alloc.cpp): the memory
// of every coroutine frame and threaded-call job. Its contract: blocks are reused by size class,
// may be freed on any thread (also one that then exits), and sizes past the classes go to operator
// new; once a spike of coroutines ended and the loop is idle, its memory goes back to the system.
// Deterministic: no timing, only addresses, contents and the resident set after idle steps.

#include <kaa/coroutine.hpp>
#include <kaa/delay.hpp>
#include <kaa/detail/frame_alloc.hpp>
#include <kaa/main.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "sanitized.hpp"

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

// ---------------------------------------------------------------- memory comes back

/// The process's resident set now, bytes (second field of /proc/self/statm, in pages).
long rss_bytes() {
    long size = 0;
    long resident = 0;
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
    std::fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

/// One loop iteration that goes idle (runs the idle housekeeping before epoll_wait) without
/// sleeping: the pending wakeup makes epoll_wait return at once.
void idle_step() {
    kaa::main::wakeup();
    kaa::main::step();
}

/// The loop goes idle, and again with nothing changed: the frame allocator sweeps at the second
/// idle step (the first one only notes that its lists grew).
void quiet_idle() {
    idle_step();
    idle_step();
}

kaa::Coroutine<> parked(long* ended) {
    co_await kaa::delay(std::chrono::seconds(0));
    ++*ended;
}

// A spike of 200,000 coroutines parked on their own delay, all finished: once the loop stayed
// idle (two idle steps with nothing changed in between), the resident set is back within 10% (+ 1 MiB) of what it was before the spike.
TEST(FrameAlloc, MemoryComesBackOnceTheLoopIdles) {
    constexpr long kSpike = 200'000;
    quiet_idle();  // the loop exists, and what earlier tests left was swept
    const long before = rss_bytes();
    long ended = 0;
    for (long i = 0; i < kSpike; ++i) parked(&ended);
    const long spike = rss_bytes();
    while (ended != kSpike) kaa::main::step();  // the delays are due: never sleeps
    quiet_idle();
    const long after = rss_bytes();
    std::printf("[ rss      ] before %ld KiB, spike %ld KiB, after the idle step %ld KiB\n",
                before / 1024, spike / 1024, after / 1024);
    EXPECT_GT(spike, before + kSpike * 128);  // the spike was real: frames and states
    if (KAA_TEST_SANITIZED) {
        GTEST_SKIP() << "sanitizer build: ASan has no frame arena and keeps freed memory in "
                        "quarantine, TSan keeps its shadow memory";
    }
    EXPECT_LE(after, before + before / 10 + (1L << 20));
}

// A small churn (less than the sweep threshold, 8 MiB) does not make the idle loop sweep: the
// blocks freed before the idle step are still cached and handed out again.
TEST(FrameAlloc, SmallChurnIsNotSweptWhenIdle) {
    quiet_idle();                   // whatever earlier tests left is swept now, if anything
    constexpr int kBlocks = 2'000;  // 2,000 x 2 KiB = 4 MiB
    constexpr std::size_t kSize = 2048;
    std::vector<void*> first;
    for (int i = 0; i < kBlocks; ++i) first.push_back(frame_alloc(kSize));
    for (void* p : first) frame_free(p, kSize);
    quiet_idle();
    const std::set<void*> freed(first.begin(), first.end());
    std::vector<void*> second;
    for (int i = 0; i < kBlocks; ++i) second.push_back(frame_alloc(kSize));
    const auto reused = std::count_if(second.begin(), second.end(),
                                      [&](void* p) { return freed.count(p) != 0; });
    EXPECT_EQ(reused, kBlocks);
    for (void* p : second) frame_free(p, kSize);
}

/// Blocks cached in this thread's free list of `size`.
std::uint32_t cached(std::size_t size) {
    return kaa::detail::frame_cache().counts[kaa::detail::FrameCache::size_class(size)];
}

// The sweep waits until the lists stop changing: an idle step between two batches of frees
// (a loop waiting for pool results) only notes the growth; the blocks are still cached. The
// next idle step with nothing freed since sweeps them (their pages go back).
TEST(FrameAlloc, SweepWaitsUntilTheListsStopChanging) {
    quiet_idle();
    constexpr int kBlocks = 3'000;  // 3,000 x 4,000 B: 12 MB
    std::vector<void*> blocks;
    for (int i = 0; i < kBlocks; ++i) blocks.push_back(frame_alloc(kRare));
    for (int i = 0; i < kBlocks / 4; ++i) frame_free(blocks[static_cast<std::size_t>(i)], kRare);
    idle_step();
    for (int i = kBlocks / 4; i < kBlocks; ++i) {
        frame_free(blocks[static_cast<std::size_t>(i)], kRare);
    }
    idle_step();  // past the threshold, but the lists changed since the last idle step
    EXPECT_GE(cached(kRare), static_cast<std::uint32_t>(kBlocks));  // not swept
    idle_step();  // nothing changed: swept, the blocks left the list (their pages went back)
    // Arena blocks all leave; without the arena (ASan) a class keeps 1,024 malloc'd blocks.
    EXPECT_LE(cached(kRare), KAA_TEST_SANITIZED ? 1024u : static_cast<std::uint32_t>(kBlocks / 10));
}

/// Whether this thread's free list of `size` holds as many blocks as its count says.
bool list_matches_count(std::size_t size) {
    const auto& f = kaa::detail::frame_cache();
    const std::size_t c = kaa::detail::FrameCache::size_class(size);
    std::uint32_t n = 0;
    for (auto* b = f.heads[c]; b; b = b->next) ++n;
    return n == f.counts[c];
}

// A sweep after a spike keeps every live block intact — sparse live blocks, so that the pages
// between them are returned while their regions stay — also in regions whose other blocks were
// freed on a thread that then ended (the loop thread adopts that thread's cached blocks); the
// lists stay consistent and the blocks still allocate and free afterwards.
TEST(FrameAlloc, SweepKeepsBlocksLiveOrCachedElsewhere) {
    constexpr int kBlocks = 60'000;
    std::vector<void*> live;
    std::vector<void*> here;
    std::vector<void*> elsewhere;
    for (int i = 0; i < kBlocks; ++i) {
        void* p = frame_alloc(kFrame);
        std::memset(p, 0x33, kFrame);
        if (i % 40 == 0) {
            live.push_back(p);  // one in 40: about one per 11 KiB
        } else {
            ((i / 1000) % 2 ? here : elsewhere).push_back(p);
        }
    }
    std::vector<void*> spike;  // 30+ MB, then freed here: enough for a sweep
    for (int i = 0; i < 120'000; ++i) spike.push_back(frame_alloc(kFrame));
    for (void* p : spike) frame_free(p, kFrame);
    for (void* p : here) frame_free(p, kFrame);
    std::thread([&] {
        for (void* p : elsewhere) frame_free(p, kFrame);
    }).join();
    quiet_idle();
    EXPECT_TRUE(list_matches_count(kFrame));
    for (void* p : live) {
        ASSERT_EQ(static_cast<unsigned char*>(p)[0], 0x33);
        ASSERT_EQ(static_cast<unsigned char*>(p)[kFrame - 1], 0x33);
    }
    std::vector<void*> again;
    for (int i = 0; i < 200'000; ++i) {
        void* p = frame_alloc(kFrame);
        std::memset(p, 0x44, kFrame);
        again.push_back(p);
    }
    EXPECT_EQ(std::set<void*>(again.begin(), again.end()).size(), again.size());  // distinct
    for (void* p : live) EXPECT_EQ(static_cast<unsigned char*>(p)[kFrame / 2], 0x33);
    for (void* p : again) frame_free(p, kFrame);
    for (void* p : live) frame_free(p, kFrame);
    quiet_idle();
    EXPECT_TRUE(list_matches_count(kFrame));
}

}  // namespace
