#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// The frame allocator (internal): the per-thread size-class free lists that serve coroutine
// frames (detail/coroutine_impl.hpp), threaded-call job records (detail/thread_impl.hpp) and
// the states of plain InProgress objects (detail/state.hpp) through frame_alloc()/frame_free(). The inline fast paths here pop and push a free list; the
// slow paths, the frame arena that refills the lists and the per-thread cleanup are in
// src/coroutine/frame_alloc.cpp (see its file comment).
//
// Lifetime: arena blocks stay cached for frames while the loop is busy; once the loop stays idle
// after a spike (its lists grew by 8 MiB since the last sweep, then did not change between two
// idle steps), the pages of the loop thread's free arena blocks go back to the system and
// malloc_trim(0) runs (the reactor's idle hook). When a thread ends, the malloc'd blocks its
// lists cache are freed and its arena blocks go to the loop thread's lists.
//
// Threads: each thread allocates from and frees to its own lists; a block may be freed on any
// thread, not only the one that allocated it.

#include <array>
#include <cstddef>
#include <cstdint>

namespace kaa::detail {

/// Per-thread free lists of coroutine frames and job records, by size class (16 bytes a class,
/// up to 4 KiB). Trivially destructible and constant-initialised, so the inline fast paths below
/// need no TLS guard; src/coroutine/frame_alloc.cpp frees the cached blocks when the thread ends.
struct FrameCache {
    static constexpr std::size_t kClassBytes = 16;  // malloc's granularity: ≤ 15 bytes wasted
    static constexpr std::size_t kClasses = 256;
    struct Block {
        Block* next;
    };
    std::array<Block*, kClasses> heads;
    std::array<std::uint32_t, kClasses> counts;
    /// Blocks cached per class at most: 0 until the thread's cleaner is armed (the first free
    /// takes the slow path and arms it) and again once the thread's cache was released.
    std::uint32_t limit;
    static constexpr std::size_t size_class(std::size_t size) noexcept {
        return (size + kClassBytes - 1) / kClassBytes;
    }
};
extern thread_local constinit FrameCache t_frame_cache;
/// This thread's cache. The empty asm hides the address from the optimiser: GCC 12 with
/// -fsanitize=undefined otherwise reports the TLS address it hoisted out of a loop as a null
/// pointer (a false positive; clang does not).
inline FrameCache& frame_cache() noexcept {
    FrameCache* p = &t_frame_cache;
#if defined(__GNUC__)
    __asm__("" : "+r"(p));
#endif
    return *p;
}
/// frame_alloc() when the class is empty or too large: operator new.
void* frame_alloc_slow(std::size_t size);
/// frame_free() when the class is full, the size too large or the cache not armed.
void frame_free_slow(void* p, std::size_t size) noexcept;

/// Frame memory from the calling thread's free lists (operator new when empty).
inline void* frame_alloc(std::size_t size) {
    const std::size_t c = FrameCache::size_class(size);
    if (c < FrameCache::kClasses) {
        FrameCache& f = frame_cache();
        if (FrameCache::Block* b = f.heads[c]) {
            f.heads[c] = b->next;
            --f.counts[c];
            return b;
        }
    }
    return frame_alloc_slow(size);
}
/// Returns a block of frame_alloc(size) to the calling thread's free lists (any thread).
inline void frame_free(void* p, std::size_t size) noexcept {
    const std::size_t c = FrameCache::size_class(size);
    if (c < FrameCache::kClasses) {
        FrameCache& f = frame_cache();
        if (f.counts[c] < f.limit) {
            auto* b = static_cast<FrameCache::Block*>(p);
            b->next = f.heads[c];
            f.heads[c] = b;
            ++f.counts[c];
            return;
        }
    }
    frame_free_slow(p, size);
}

}  // namespace kaa::detail

#pragma GCC visibility pop
