// The frame allocator behind frame_alloc()/frame_free() (detail/frame_alloc.hpp): coroutine
// frames and threaded-call job records.
//
// Two layers. (1) Per-thread free lists by 16-byte size class: the inline fast paths in the
// header pop and push there. (2) When a class is empty, blocks are carved from the thread's
// current region of the frame arena: one virtual reservation (nothing committed) cut into
// 256 KiB regions, each carved by one thread at a time. A region is faulted in piece by piece
// (64 KiB, then whole regions), each by one madvise(MADV_POPULATE_WRITE) instead of a page
// fault per 4 KiB. A burst of live coroutines then costs a pointer bump per frame instead
// of a malloc (malloc's bookkeeping, and free() past the cache limit, were about a third of the
// loop thread's time with 200,000 live coroutines and jobs). Huge pages (MADV_HUGEPAGE) would be
// faster, but the kernel's direct compaction then sometimes stalls first faults for 100+ ms:
// predictable latency wins (bench/README.md has the measurements).
//
// Lifetime: arena blocks circulate in the free lists of the threads that free them; a list
// keeps at most kMaxCachedPerClass blocks of malloc'd memory (the rest goes back to operator
// delete) but every arena block, so memory once used for frames is ready for frames (like a
// pool) — until the loop goes idle. The reactor calls idle_sweep() on the loop thread before it
// sleeps; when the loop thread's lists grew by kSweepBytes since the last sweep (a spike of
// coroutines ended) and did not change since the previous idle step (the spike is over: a loop
// that waits for pool results idles between them; a no-op timer brings the next idle step
// within kQuietCheck), it counts their arena blocks per region: a region all of whose carved
// blocks sit in these lists is wholly free. Those blocks leave the lists, the region's pages go
// back to the system (madvise(MADV_DONTNEED)) and the region back to the carvers. In a region
// that keeps live blocks, the pages wholly covered by free blocks go back, and the blocks
// touching them leave the lists for good (the region's carved count forgets them, so that the
// region is dropped once the rest is free). Then malloc'd blocks past kKeepMallocPerClass per
// class are deleted, and malloc_trim(0) returns what the spike's states and callbacks left in
// malloc's heap. The fast paths count nothing: regions count their carved blocks in the (slow)
// carving path, the sweep counts the free ones. A sweep walks the lists twice (a cache miss per
// block): ~120 ms after a spike of 1,000,000 coroutines, once.
// A full arena (kArenaBytes of regions in use), a reservation the kernel refuses, or an
// AddressSanitizer build (whose leak checker must see every frame) fall back to operator new.
//
// Threads: the free lists and the current region are per thread; regions are handed out under
// a mutex (once per 256 KiB). A block may be freed on any thread. Only the loop thread sweeps,
// and only its own lists: a region with a block cached by another thread, in use, or being
// carved by another thread is not wholly free there and stays.
// A region is marked retired (its carved count final) when its carver moves on or ends. A thread
// that ends (a pool worker past its idle timeout) leaves its cached arena blocks to the loop
// thread, whose next sweep adopts them (g_orphans).

#include <kaa/detail/frame_alloc.hpp>
#include <kaa/detail/loop.hpp>

#include <sys/mman.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
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
constexpr std::size_t kFirstPiece = std::size_t{64} << 10;
constexpr std::size_t kRegionBytes = std::size_t{256} << 10;
constexpr std::size_t kArenaBytes = std::size_t{1} << 30;  ///< virtual, reserved once
constexpr std::size_t kRegions = kArenaBytes / kRegionBytes;
/// Growth of the loop thread's cached bytes since the last sweep that makes the next idle sweep.
constexpr std::size_t kSweepBytes = std::size_t{8} << 20;
/// malloc'd blocks a class keeps through a sweep (only without the arena, or with a full one).
constexpr std::uint32_t kKeepMallocPerClass = 1024;
#ifdef MADV_POPULATE_WRITE
constexpr int kMadvPopulateWrite = MADV_POPULATE_WRITE;
#else
constexpr int kMadvPopulateWrite = 23;  // Linux's value, for headers older than glibc 2.35
#endif

// ---------------------------------------------------------------- the arena

/// The reserved range, [base, base + kArenaBytes) once reserved (0 before or if refused).
std::atomic<std::uintptr_t> g_arena_base{0};
/// Set once a block of a cached class came from operator new (no arena, or it was full): only
/// then must the loop thread's cleaner look at each cached block.
std::atomic<bool> g_malloc_blocks{false};

/// A region's bookkeeping. kCarving: a thread carves from it (its count lives in that thread's
/// Carver); kRetired: no longer carved, `carved` is final; kUnused: free (never used, or swept).
enum : std::uint8_t { kUnused = 0, kCarving = 1, kRetired = 2 };
struct Region {
    std::atomic<std::uint32_t> carved{0};  ///< blocks carved from it (final once retired)
    std::atomic<std::uint8_t> state{kUnused};
};
constinit std::array<Region, kRegions> g_regions{};
/// Regions returned by sweeps (indices), reused before fresh ones; and the fresh ones.
std::mutex g_free_mutex;
constinit std::array<std::uint32_t, kRegions> g_free_regions{};
std::size_t g_free_count = 0;  ///< guarded by g_free_mutex
std::size_t g_arena_used = 0;  ///< bytes of fresh regions handed out; guarded by g_free_mutex
/// Bytes of the arena made writable (mprotect), kCommitBytes at a time: one call per 2 MiB
/// instead of one per region. Guarded by g_free_mutex.
std::size_t g_arena_writable = 0;
constexpr std::size_t kCommitBytes = std::size_t{2} << 20;

std::uintptr_t arena_base() {
    static const std::uintptr_t base = [] {
        // PROT_NONE: address space only; regions are made writable as they are handed out.
        void* raw = ::mmap(nullptr, kArenaBytes + kRegionBytes, PROT_NONE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (raw == MAP_FAILED) return std::uintptr_t{0};
        const auto r = reinterpret_cast<std::uintptr_t>(raw);
        const std::uintptr_t aligned = (r + kRegionBytes - 1) & ~(kRegionBytes - 1);
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

// Whether this thread's Cleaner was constructed (a trivially destructible flag, valid to read
// after the Cleaner ran).
constinit thread_local bool t_cleaner_armed = false;
// Whether this thread sweeps (the loop thread: its idle hook ran here).
constinit thread_local bool t_sweeps = false;

/// This thread's current region: [cur, end) is faulted in and free, [end, region_end) not yet
/// faulted in.
struct Carver {
    char* cur;
    char* end;
    char* region_end;
    std::size_t next_piece;  ///< size of the next piece to fault in (0: kFirstPiece)
    std::uint32_t region;    ///< index of the current region (valid while region_end != null)
    std::uint32_t carved;    ///< blocks carved from it so far
};
constinit thread_local Carver t_carver{};

/// Hands the current region over to the sweeps (its carved count is final).
void retire_region() noexcept {
    if (!t_carver.region_end) return;
    Region& r = g_regions[t_carver.region];
    r.carved.store(t_carver.carved, std::memory_order_relaxed);
    r.state.store(kRetired, std::memory_order_release);
    t_carver.cur = t_carver.end = t_carver.region_end = nullptr;
    t_carver.carved = 0;
}

/// Takes a region for this thread (a returned one, else a fresh one); false if none is left.
bool take_region() noexcept {
    const std::uintptr_t base = arena_base();
    if (base == 0) return false;
    std::size_t index;
    {
        std::lock_guard lock(g_free_mutex);
        if (g_free_count != 0) {
            index = g_free_regions[--g_free_count];
        } else {
            if (g_arena_used >= kArenaBytes) return false;
            if (g_arena_used + kRegionBytes > g_arena_writable) {
                // Under the mutex: no thread carves from a region before it is writable.
                const std::size_t size = std::min(kCommitBytes, kArenaBytes - g_arena_writable);
                if (::mprotect(reinterpret_cast<void*>(base + g_arena_writable), size,
                               PROT_READ | PROT_WRITE) != 0) {
                    return false;
                }
                g_arena_writable += size;
            }
            index = g_arena_used / kRegionBytes;
            g_arena_used += kRegionBytes;
        }
    }
    g_regions[index].state.store(kCarving, std::memory_order_relaxed);
    t_carver.region = static_cast<std::uint32_t>(index);
    t_carver.cur = t_carver.end = reinterpret_cast<char*>(base + index * kRegionBytes);
    t_carver.region_end = t_carver.cur + kRegionBytes;
    t_carver.carved = 0;
    return true;
}

/// Makes [cur, cur + bytes) carvable: faults in the next piece of the region, or moves to a
/// new region when this one has too little left. False if the arena is full or refused. Not
/// inlined: carve()'s pointer bump then needs no saved registers.
[[gnu::noinline]] bool grow(std::size_t bytes) noexcept {
    if (static_cast<std::size_t>(t_carver.region_end - t_carver.cur) < bytes) {
        retire_region();  // the tail (< 4 KiB) is wasted
        // Not after this thread's Cleaner ran (limit 0): nobody would retire the region.
        if (t_cleaner_armed && frame_cache().limit == 0) return false;
        if (!take_region()) return false;
    }
    const std::size_t want = t_carver.next_piece ? t_carver.next_piece : kFirstPiece;
    const std::size_t piece =
        std::min(want, static_cast<std::size_t>(t_carver.region_end - t_carver.end));
    // Fault the piece in with one call (Linux 5.14+; older kernels refuse, and the pages fault
    // one by one on first touch): a third cheaper than a page fault per 4 KiB, at the price of
    // committing the piece (at most a region) at once.
    static_cast<void>(::madvise(t_carver.end, piece, kMadvPopulateWrite));
    t_carver.end += piece;
    t_carver.next_piece = std::min(want * 2, kRegionBytes);
    return true;
}

/// A block of `bytes` from this thread's region, or null.
[[maybe_unused]] void* carve(std::size_t bytes) noexcept {  // unused under ASan (clang)
    if (static_cast<std::size_t>(t_carver.end - t_carver.cur) < bytes && !grow(bytes)) {
        return nullptr;
    }
    void* p = t_carver.cur;
    t_carver.cur += bytes;
    ++t_carver.carved;
    return p;
}

// ---------------------------------------------------------------- thread exit

/// Arena blocks cached by threads that ended, per class, until the loop thread's next idle
/// sweep adopts them (a pool worker that ends when idle must not strand its blocks' regions).
struct Orphans {
    std::array<FrameCache::Block*, FrameCache::kClasses> heads;
    std::array<FrameCache::Block*, FrameCache::kClasses> tails;
    std::array<std::uint32_t, FrameCache::kClasses> counts;
};
std::mutex g_orphan_mutex;
constinit Orphans g_orphans{};               ///< guarded by g_orphan_mutex
std::atomic<bool> g_orphans_pending{false};  ///< g_orphans may hold blocks

// Frees this thread's cached malloc'd blocks when it ends, leaves its arena blocks to the loop
// thread (g_orphans; the loop thread's own simply stay in the arena) and retires its region,
// then keeps the cache off (limit 0): glibc runs thread-local destructors before atexit
// handlers, and the exit hook may still unwind (and so allocate and free) coroutine frames.
struct Cleaner {
    ~Cleaner() {
        FrameCache& f = frame_cache();
        f.limit = 0;
        if (t_sweeps) {  // nobody adopts the loop thread's blocks: no walk unless malloc'd ones
            const bool walk = g_malloc_blocks.load(std::memory_order_relaxed);
            for (FrameCache::Block*& head : f.heads) {
                while (walk && head) {
                    FrameCache::Block* next = head->next;
                    if (!in_arena(head)) ::operator delete(head);
                    head = next;
                }
                head = nullptr;
            }
            f.counts = {};
            retire_region();
            return;
        }
        Orphans mine{};
        bool any = false;
        for (std::size_t c = 0; c < FrameCache::kClasses; ++c) {
            FrameCache::Block* b = f.heads[c];
            while (b) {
                FrameCache::Block* next = b->next;
                if (in_arena(b)) {
                    b->next = mine.heads[c];
                    mine.heads[c] = b;
                    if (!mine.tails[c]) mine.tails[c] = b;
                    ++mine.counts[c];
                    any = true;
                } else {
                    ::operator delete(b);
                }
                b = next;
            }
            f.heads[c] = nullptr;
        }
        f.counts = {};
        retire_region();
        if (!any) return;
        std::lock_guard lock(g_orphan_mutex);
        for (std::size_t c = 0; c < FrameCache::kClasses; ++c) {
            if (!mine.heads[c]) continue;
            mine.tails[c]->next = g_orphans.heads[c];
            if (!g_orphans.heads[c]) g_orphans.tails[c] = mine.tails[c];
            g_orphans.heads[c] = mine.heads[c];
            g_orphans.counts[c] += mine.counts[c];
        }
        g_orphans_pending.store(true, std::memory_order_release);
    }
};
thread_local Cleaner t_cleaner;

void push_block(FrameCache& f, std::size_t c, void* p) noexcept {
    auto* b = static_cast<FrameCache::Block*>(p);
    b->next = f.heads[c];
    f.heads[c] = b;
    ++f.counts[c];
}

// ---------------------------------------------------------------- idle sweep

/// Bytes this thread's lists cached right after its last sweep.
constinit thread_local std::size_t t_swept_bytes = 0;
/// The cached bytes an idle step found past the threshold, to sweep at the next idle step if
/// they did not change in between (npos: none).
constexpr std::size_t kNone = ~std::size_t{0};
constinit thread_local std::size_t t_pending_bytes = kNone;
/// How soon the loop comes back to check that it stayed quiet (a no-op timer: the loop sleeps
/// at most this long before its next idle step).
constexpr auto kQuietCheck = std::chrono::milliseconds(10);
TimerNode g_quiet_check{.fire = [](TimerNode*) {}};  // loop thread only

/// Bytes cached in this thread's lists (256 multiply-adds: cheap next to an epoll_wait).
std::size_t cached_bytes(const FrameCache& f) noexcept {
    std::size_t units = 0;
    for (std::size_t c = 0; c < FrameCache::kClasses; ++c) units += f.counts[c] * c;
    return units * FrameCache::kClassBytes;
}

/// Moves the blocks that threads left when they ended into this thread's lists.
void adopt_orphans(FrameCache& f) noexcept {
    if (!g_orphans_pending.load(std::memory_order_acquire)) return;
    std::lock_guard lock(g_orphan_mutex);
    for (std::size_t c = 0; c < FrameCache::kClasses; ++c) {
        if (!g_orphans.heads[c]) continue;
        g_orphans.tails[c]->next = f.heads[c];
        f.heads[c] = g_orphans.heads[c];
        f.counts[c] += g_orphans.counts[c];
    }
    g_orphans = Orphans{};
    g_orphans_pending.store(false, std::memory_order_relaxed);
}

constexpr std::size_t kPage = 4096;
constexpr std::size_t kPagesPerRegion = kRegionBytes / kPage;

/// A sweep's scratch memory, mapped for the sweep only (so that it leaves no resident pages
/// behind; the parts for regions without free blocks are never touched).
struct SweepScratch {
    enum : std::uint8_t { kKeep = 0, kDrop = 1, kPartial = 2 };
    std::array<std::uint32_t, kRegions> free_blocks;  ///< free blocks per region (in the lists)
    std::array<std::uint32_t, kRegions> lost;         ///< blocks unlinked from partial regions
    std::array<std::uint8_t, kRegions> what;          ///< kKeep, kDrop or kPartial
    /// Bytes of free blocks per page of every region (kPage: a wholly free page).
    std::array<std::array<std::uint16_t, kPagesPerRegion>, kRegions> page_free;
};

/// The loop's idle hook: returns the memory of the loop thread's cached arena blocks (and
/// surplus malloc'd blocks) to the system when its lists grew by kSweepBytes since the last
/// sweep. A region whose carved blocks all sit in the lists is dropped as a whole and reused by
/// the carvers; in a region that still has live blocks, the pages wholly covered by free blocks
/// are returned, and the blocks touching them leave the lists for good (the region's carved
/// count forgets them, so it is dropped once the rest is free). True if it swept.
bool idle_sweep() noexcept {
    t_sweeps = true;
    if (!t_cleaner_armed) return false;
    FrameCache& f = frame_cache();
    if (f.limit == 0) return false;
    adopt_orphans(f);
    const std::size_t before = cached_bytes(f);
    if (before < t_swept_bytes + kSweepBytes) {
        t_pending_bytes = kNone;
        return false;
    }
    if (before != t_pending_bytes) {
        // Not while the spike still ends: blocks were freed (or taken) since the last idle step
        // (a loop waiting for pool results idles between them). Sweep at the next idle step if
        // nothing changed until then, and make sure there is one soon.
        t_pending_bytes = before;
        try {
            timer_arm(&g_quiet_check, loop_now() + kQuietCheck);
        } catch (...) {  // no memory for the heap slot: the check waits for the next idle step
        }
        return true;
    }
    t_pending_bytes = kNone;
    timer_cancel(&g_quiet_check);

    void* raw = ::mmap(nullptr, sizeof(SweepScratch), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED) return false;
    auto& s = *static_cast<SweepScratch*>(raw);  // zero-filled
    const std::uintptr_t base = g_arena_base.load(std::memory_order_acquire);
    auto region_of = [base](const void* b) {
        return (reinterpret_cast<std::uintptr_t>(b) - base) / kRegionBytes;
    };

    // 1. Free blocks per region and their bytes per page (one walk of the lists: a walk is a
    // cache miss per block); which regions are wholly free, which partly.
    bool malloc_surplus = false;
    for (std::size_t c = 0; c < FrameCache::kClasses; ++c) {
        const std::size_t bytes = c * FrameCache::kClassBytes;
        std::uint32_t kept_malloc = 0;
        for (FrameCache::Block* b = f.heads[c]; b; b = b->next) {
            if (!in_arena(b)) {
                if (++kept_malloc > kKeepMallocPerClass) malloc_surplus = true;
                continue;
            }
            const std::size_t r = region_of(b);
            ++s.free_blocks[r];
            std::size_t off = reinterpret_cast<std::uintptr_t>(b) - base - r * kRegionBytes;
            const std::size_t end = off + bytes;
            while (off < end) {
                const std::size_t n = std::min(end, (off / kPage + 1) * kPage) - off;
                s.page_free[r][off / kPage] =
                    static_cast<std::uint16_t>(s.page_free[r][off / kPage] + n);
                off += n;
            }
        }
    }
    bool any_drop = false;
    bool any_partial = false;
    for (std::size_t r = 0; r < kRegions; ++r) {
        if (s.free_blocks[r] == 0) continue;
        std::uint32_t carved;
        if (t_carver.region_end && r == t_carver.region) {
            carved = t_carver.carved;
        } else if (g_regions[r].state.load(std::memory_order_acquire) == kRetired) {
            carved = g_regions[r].carved.load(std::memory_order_relaxed);
        } else {
            continue;  // being carved by another thread
        }
        if (s.free_blocks[r] == carved) {
            s.what[r] = SweepScratch::kDrop;
            any_drop = true;
        } else {
            s.what[r] = SweepScratch::kPartial;
            any_partial = true;
        }
    }

    // Whether block b of `bytes` lies on a wholly free page of a partial region.
    auto on_free_page = [&](const void* b, std::size_t r, std::size_t bytes) {
        const std::size_t off = reinterpret_cast<std::uintptr_t>(b) - base - r * kRegionBytes;
        for (std::size_t p = off / kPage; p <= (off + bytes - 1) / kPage; ++p) {
            if (s.page_free[r][p] == kPage) return true;
        }
        return false;
    };

    // 2. Unlink the blocks of dropped regions and of free pages, and the malloc'd surplus
    // (keeping the lists' order).
    if (any_drop || any_partial || malloc_surplus) {
        for (std::size_t c = 0; c < FrameCache::kClasses; ++c) {
            const std::size_t bytes = c * FrameCache::kClassBytes;
            std::uint32_t count = 0;
            std::uint32_t kept_malloc = 0;
            FrameCache::Block** link = &f.heads[c];
            while (FrameCache::Block* b = *link) {
                bool keep = true;
                if (in_arena(b)) {
                    const std::size_t r = region_of(b);
                    if (s.what[r] == SweepScratch::kDrop) {
                        keep = false;
                    } else if (s.what[r] == SweepScratch::kPartial && on_free_page(b, r, bytes)) {
                        keep = false;
                        ++s.lost[r];
                    }
                } else if (++kept_malloc > kKeepMallocPerClass) {
                    *link = b->next;
                    ::operator delete(b);
                    continue;
                }
                if (keep) {
                    ++count;
                    link = &b->next;
                } else {
                    *link = b->next;
                }
            }
            f.counts[c] = count;
        }
    }

    // 3. Give the pages back: whole regions (then to the carvers), free pages of the others.
    auto give_back = [base](std::size_t from, std::size_t to) {
        static_cast<void>(
            ::madvise(reinterpret_cast<void*>(base + from), to - from, MADV_DONTNEED));
    };
    for (std::size_t r = 0; r < kRegions;) {
        if (s.what[r] != SweepScratch::kDrop) {
            ++r;
            continue;
        }
        std::size_t end = r + 1;  // one call per run of adjacent regions
        while (end < kRegions && s.what[end] == SweepScratch::kDrop) ++end;
        give_back(r * kRegionBytes, end * kRegionBytes);
        r = end;
    }
    if (any_partial) {
        for (std::size_t r = 0; r < kRegions; ++r) {
            if (s.what[r] != SweepScratch::kPartial || s.lost[r] == 0) continue;
            if (t_carver.region_end && r == t_carver.region) {
                t_carver.carved -= s.lost[r];
            } else {
                g_regions[r].carved.fetch_sub(s.lost[r], std::memory_order_relaxed);
            }
            for (std::size_t p = 0; p < kPagesPerRegion;) {
                if (s.page_free[r][p] != kPage) {
                    ++p;
                    continue;
                }
                std::size_t end = p + 1;
                while (end < kPagesPerRegion && s.page_free[r][end] == kPage) ++end;
                give_back(r * kRegionBytes + p * kPage, r * kRegionBytes + end * kPage);
                p = end;
            }
        }
    }
    if (any_drop) {
        if (t_carver.region_end && s.what[t_carver.region] == SweepScratch::kDrop) {
            t_carver.cur = t_carver.end = t_carver.region_end = nullptr;
            t_carver.carved = 0;
        }
        std::lock_guard lock(g_free_mutex);
        for (std::size_t r = 0; r < kRegions; ++r) {
            if (s.what[r] != SweepScratch::kDrop) continue;
            g_regions[r].carved.store(0, std::memory_order_relaxed);
            g_regions[r].state.store(kUnused, std::memory_order_relaxed);
            g_free_regions[g_free_count++] = static_cast<std::uint32_t>(r);
        }
    }
    ::munmap(raw, sizeof(SweepScratch));
#if defined(__GLIBC__)
    // The spike's states, exception objects and callbacks went through malloc: return its free
    // pages too (the spike that made this sweep worth it freed at least kSweepBytes of frames).
    static_cast<void>(::malloc_trim(0));
#endif
    t_swept_bytes = cached_bytes(f);
    return true;
}

[[maybe_unused]] const bool g_idle_hook_added = add_idle_hook(&idle_sweep);

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
        // Arena memory is only reused for frames (or given back by an idle sweep): keep it
        // cached past the limit. After this thread's Cleaner ran (limit 0) it is dropped.
        if (f.limit != 0) push_block(f, c, p);
        return;
    }
    ::operator delete(p);
}

}  // namespace kaa::detail
