// The frame allocator behind frame_alloc()/frame_free() (detail/frame_alloc.hpp): coroutine
// frames and threaded-call job records.
//
// Two layers. (1) Per-thread free lists by 16-byte size class: the inline fast paths in the
// header pop and push there. (2) When a class is empty, blocks are carved from the thread's
// current chunk of the frame arena: one virtual reservation (nothing committed) handed out in
// chunks that grow from 64 KiB to 2 MiB per thread. A burst of live coroutines then costs a
// pointer bump per frame instead of a malloc (malloc's bookkeeping, and free() past the cache
// limit, were about a third of the loop thread's time with 200,000 live coroutines and jobs).
// Each chunk is faulted in by one madvise(MADV_POPULATE_WRITE) instead of a page fault per
// 4 KiB. Huge pages (MADV_HUGEPAGE) would be faster, but the kernel's direct compaction then
// sometimes stalls first faults for 100+ ms: predictable latency wins (bench/README.md has the
// measurements).
//
// Lifetime: arena memory is never returned to the system. Its blocks circulate in the free
// lists of the threads that free them; a list keeps at most kMaxCachedPerClass blocks of
// malloc'd memory (the rest goes back to operator delete) but every arena block, so memory
// once used for frames stays ready for frames (like a pool). A full arena (kArenaBytes of
// frames ever carved), a reservation the kernel refuses, or an AddressSanitizer build (whose
// leak checker must see every frame) fall back to operator new.
//
// Threads: the free lists and the current chunk are per thread; the arena hands out chunks
// with one atomic offset. A block may be freed on any thread.

#include <kaa/detail/frame_alloc.hpp>

#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define KAA_FRAME_ARENA 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KAA_FRAME_ARENA 0
#endif
#endif
#ifndef KAA_FRAME_ARENA
#define KAA_FRAME_ARENA 1
#endif

namespace kaa::detail {

thread_local constinit FrameCache t_frame_cache{};

namespace {

constexpr bool kUseArena = KAA_FRAME_ARENA != 0;
constexpr std::uint32_t kMaxCachedPerClass = 1 << 16;
constexpr std::size_t kFirstChunk = std::size_t{64} << 10;
constexpr std::size_t kHugeChunk = std::size_t{2} << 20;
constexpr std::size_t kArenaBytes = std::size_t{1} << 30;  ///< virtual, reserved once
#ifdef MADV_POPULATE_WRITE
constexpr int kMadvPopulateWrite = MADV_POPULATE_WRITE;
#else
constexpr int kMadvPopulateWrite = 23;  // Linux's value, for headers older than glibc 2.35
#endif

// ---------------------------------------------------------------- the arena

/// The reserved range, [base, base + kArenaBytes) once reserved (0 before or if refused).
std::atomic<std::uintptr_t> g_arena_base{0};
/// Bytes handed out as chunks so far.
std::atomic<std::size_t> g_arena_used{0};
/// Set once a block of a cached class came from operator new (no arena, or it was full): only
/// then must a thread's cleaner look at each cached block.
std::atomic<bool> g_malloc_blocks{false};

std::uintptr_t arena_base() {
    static const std::uintptr_t base = [] {
        // PROT_NONE: address space only; chunks are committed (mprotect) as they are handed out.
        void* raw = ::mmap(nullptr, kArenaBytes + kHugeChunk, PROT_NONE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (raw == MAP_FAILED) return std::uintptr_t{0};
        const auto r = reinterpret_cast<std::uintptr_t>(raw);
        const std::uintptr_t aligned = (r + kHugeChunk - 1) & ~(kHugeChunk - 1);
        g_arena_base.store(aligned, std::memory_order_release);
        return aligned;
    }();
    return base;
}

bool in_arena(const void* p) noexcept {
    const std::uintptr_t base = g_arena_base.load(std::memory_order_relaxed);
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    return base != 0 && a >= base && a - base < kArenaBytes;
}

/// This thread's current chunk.
struct Carver {
    char* cur;
    char* end;
    std::size_t next_chunk;  ///< size of the next chunk (0: kFirstChunk)
};
constinit thread_local Carver t_carver{};

/// Commits a new chunk for this thread; false if the arena is full or refused.
bool new_chunk() noexcept {
    const std::uintptr_t base = arena_base();
    if (base == 0) return false;
    const std::size_t size = t_carver.next_chunk ? t_carver.next_chunk : kFirstChunk;
    std::size_t off = g_arena_used.load(std::memory_order_relaxed);
    std::size_t start;
    do {
        start = (off + size - 1) & ~(size - 1);  // chunks aligned to their size
        if (start + size > kArenaBytes) return false;
    } while (!g_arena_used.compare_exchange_weak(off, start + size, std::memory_order_relaxed));
    void* chunk = reinterpret_cast<void*>(base + start);
    if (::mprotect(chunk, size, PROT_READ | PROT_WRITE) != 0) return false;
    // Fault the chunk in with one call (Linux 5.14+; older kernels refuse, and the pages fault
    // one by one on first touch): a third cheaper than 512 separate page faults per 2 MiB, at
    // the price of committing the chunk (at most 2 MiB) at once.
    static_cast<void>(::madvise(chunk, size, kMadvPopulateWrite));
    t_carver.cur = static_cast<char*>(chunk);
    t_carver.end = t_carver.cur + size;
    t_carver.next_chunk = size < kHugeChunk ? size * 2 : kHugeChunk;
    return true;
}

/// A block of `bytes` from this thread's chunk, or null.
void* carve(std::size_t bytes) noexcept {
    if (static_cast<std::size_t>(t_carver.end - t_carver.cur) < bytes && !new_chunk()) {
        return nullptr;
    }
    void* p = t_carver.cur;
    t_carver.cur += bytes;
    return p;
}

// ---------------------------------------------------------------- thread exit

// Frees this thread's cached malloc'd blocks when it ends (arena blocks stay in the arena), then
// keeps the cache off (limit 0): glibc runs thread-local destructors before atexit handlers,
// and the exit hook may still unwind (and so allocate and free) coroutine frames.
struct Cleaner {
    ~Cleaner() {
        FrameCache& f = frame_cache();
        f.limit = 0;
        const bool walk = g_malloc_blocks.load(std::memory_order_relaxed);
        for (FrameCache::Block*& head : f.heads) {
            while (walk && head) {
                FrameCache::Block* next = head->next;
                if (!in_arena(head)) ::operator delete(head);
                head = next;
            }
            head = nullptr;  // arena blocks stay in the arena
        }
        f.counts = {};
    }
};
thread_local Cleaner t_cleaner;
// Whether this thread's Cleaner was constructed (a trivially destructible flag, valid to read
// after the Cleaner ran).
constinit thread_local bool t_cleaner_armed = false;

void push_block(FrameCache& f, std::size_t c, void* p) noexcept {
    auto* b = static_cast<FrameCache::Block*>(p);
    b->next = f.heads[c];
    f.heads[c] = b;
    ++f.counts[c];
}

}  // namespace

void* frame_alloc_slow(std::size_t size) {
    const std::size_t c = FrameCache::size_class(size);
    if (c >= FrameCache::kClasses) return ::operator new(size);
    const std::size_t bytes = c * FrameCache::kClassBytes;
    if constexpr (kUseArena) {
        if (void* p = carve(bytes)) return p;
    }
    void* p = ::operator new(bytes);
    g_malloc_blocks.store(true, std::memory_order_relaxed);
    return p;
}

void frame_free_slow(void* p, std::size_t size) noexcept {
    const std::size_t c = FrameCache::size_class(size);
    if (c >= FrameCache::kClasses) {
        ::operator delete(p);
        return;
    }
    FrameCache& f = frame_cache();
    if (!t_cleaner_armed) {
        // First free on this thread: arm the cleaner, then cache the block.
        t_cleaner_armed = true;
        static_cast<void>(&t_cleaner);  // constructs this thread's Cleaner
        f.limit = kMaxCachedPerClass;
        push_block(f, c, p);
        return;
    }
    if (in_arena(p)) {
        // Arena memory is only ever reused for frames: keep it cached past the limit. After
        // this thread's Cleaner ran (limit 0) it is simply dropped.
        if (f.limit != 0) push_block(f, c, p);
        return;
    }
    ::operator delete(p);
}

}  // namespace kaa::detail
