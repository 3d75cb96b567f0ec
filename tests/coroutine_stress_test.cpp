// Coroutines at scale: stack safety of synchronous completion chains, and the cost of a call
// (DESIGN.md "Performance principles": one heap allocation per coroutine call at most).
//
// The counts are the (10,000,000 finished awaits, a 100,000-link chain); sanitizer
// builds run fewer finished awaits (they are ~10x slower) but keep the 100,000-link chains,
// which is where stack growth would show.
//
// This file replaces the global operator new/delete with malloc-based versions that count
// allocations made on the current thread while a CountAllocations guard is alive; everywhere
// else they behave as the default ones.

#include <kaa/kaa.hpp>

#include "test_util.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <optional>
#include <string>
#include <vector>

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

constexpr long kFinishedAwaits = kSanitized ? 1'000'000 : 10'000'000;
constexpr int kChain = 100'000;

// The million-link abort and shutdown chains keep 1,000,000 links in every build (ASan's bigger
// frames included); under TSan, whose per-access cost would make them take minutes, 100,000.
#if defined(__SANITIZE_THREAD__)
constexpr int kLongChain = 100'000;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr int kLongChain = 100'000;
#else
constexpr int kLongChain = 1'000'000;
#endif
#else
constexpr int kLongChain = 1'000'000;
#endif

thread_local bool t_counting = false;
thread_local long t_allocations = 0;

/// Counts this thread's heap allocations while alive.
class CountAllocations {
public:
    CountAllocations() {
        t_allocations = 0;
        t_counting = true;
    }
    ~CountAllocations() { t_counting = false; }
    CountAllocations(const CountAllocations&) = delete;
    CountAllocations& operator=(const CountAllocations&) = delete;
    long count() const { return t_allocations; }
};

}  // namespace

// noinline: GCC would otherwise inline the pair into callers and warn (-Wmismatched-new-delete)
// that free() releases what operator new returned, which is exactly what these replacements do.
[[gnu::noinline]] void* operator new(std::size_t size) {
    if (t_counting) ++t_allocations;
    if (size == 0) size = 1;
    if (void* p = std::malloc(size)) return p;
    throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

/// Awaits `n` already-finished InProgress objects (a pool of them, round robin, so the test
/// measures awaiting rather than allocating), then a fresh one per iteration for a tenth.
kaa::Coroutine<long> await_finished_many(long n) {
    std::vector<kaa::InProgress<int>> pool(1000);
    for (auto& ip : pool) ip.finish(1);
    long sum = 0;
    for (long i = 0; i < n; ++i) {
        sum += co_await pool[static_cast<std::size_t>(i) % pool.size()];
    }
    for (long i = 0; i < n / 10; ++i) {
        sum += co_await kaa::InProgress<int>().finish(1);
    }
    co_return sum;
}

/// One link: waits for the next (inner) one and adds one.
kaa::Coroutine<int> link(kaa::InProgress<int> inner) { co_return co_await inner + 1; }

kaa::Coroutine<> wait_for(kaa::InProgress<> gate) { co_await gate; }

/// As link(), and records its index when an abort reaches its body (then lets it escape).
kaa::Coroutine<int> recording_link(kaa::InProgress<int> inner, int index, std::vector<int>* seen) {
    try {
        co_return co_await inner + 1;
    } catch (const kaa::InProgressAborted&) {
        seen->push_back(index);
        throw;
    }
}

/// A chain of kLongChain recording links over `leaf` (link 0 awaits it); returns the outermost.
kaa::Coroutine<int> long_recording_chain(const kaa::InProgress<int>& leaf, std::vector<int>* seen) {
    kaa::InProgress<int> cur = leaf;
    for (int i = 0; i < kLongChain; ++i) cur = recording_link(cur, i, seen);
    return kaa::detail::Access::make<kaa::Coroutine<int>>(cur, kaa::detail::adopt_coroutine);
}

/// Whether `seen` is 0, 1, 2, … kLongChain - 1: the innermost link saw its abort first.
bool innermost_first(const std::vector<int>& seen) {
    if (seen.size() != static_cast<std::size_t>(kLongChain)) return false;
    for (int i = 0; i < kLongChain; ++i) {
        if (seen[static_cast<std::size_t>(i)] != i) return false;
    }
    return true;
}

}  // namespace

// DESIGN: a coroutine awaiting an already-finished InProgress never suspends ([check.A7] at scale).
TEST(CoroutineStress, TenMillionFinishedAwaitsDoNotGrowTheStack) {
    auto c = await_finished_many(kFinishedAwaits);
    ASSERT_TRUE(c.finished());
    EXPECT_EQ(c.result(), kFinishedAwaits + kFinishedAwaits / 10);
}

// docs/semantics.md [check.A8] at scale: finishing the innermost InProgress resumes 100,000
// coroutines, each inside the finish of the one it awaited; the depth bound keeps the stack flat.
TEST(CoroutineStress, ChainOfHundredThousandCoroutinesFinishesInnermostLast) {
    kaa::InProgress<int> leaf;
    kaa::InProgress<int> outer = leaf;
    for (int i = 0; i < kChain; ++i) outer = link(outer);  // each link holds the next
    EXPECT_FALSE(outer.finished());
    leaf.finish(0);  // resumes the whole chain before it returns
    ASSERT_TRUE(outer.finished());
    EXPECT_EQ(outer.result(), kChain);
    outer = kaa::InProgress<int>();  // releases 100,000 frames, each holding the next
}

// Releasing the last handle of a chain of finished frames, each holding the next one's last
// handle in a parameter, frees them one after another, not recursively.
TEST(CoroutineStress, ReleasingAChainOfFramesDoesNotRecurse) {
    kaa::test::Counted::reset();
    std::optional<kaa::Coroutine<int>> outer;
    {
        kaa::InProgress<int> leaf;
        std::vector<kaa::Coroutine<int>> links;
        kaa::InProgress<int> cur = leaf;
        for (int i = 0; i < kChain; ++i) {
            cur = [](kaa::InProgress<int> inner, kaa::test::Counted) -> kaa::Coroutine<int> {
                co_return co_await inner + 1;
            }(cur, kaa::test::Counted{i});
        }
        outer = kaa::detail::Access::make<kaa::Coroutine<int>>(cur, kaa::detail::adopt_coroutine);
        leaf.finish(1);
    }
    EXPECT_EQ(outer->result(), kChain + 1);
    EXPECT_EQ(kaa::test::Counted::alive(), kChain);  // every frame still held by its parent
    outer.reset();
    EXPECT_EQ(kaa::test::Counted::alive(), 0);
}

// Abort of a suspended chain: aborting the outermost cascades through every link (each is
// abortable and awaited only by its parent).
TEST(CoroutineStress, AbortCascadesThroughAChain) {
    constexpr int kLinks = 1'000;  // a million: AbortOfAMillionLinkChainDoesNotOverflowTheStack
    kaa::InProgress<int> leaf({.abortable = true});
    kaa::InProgress<int> outer = leaf;
    for (int i = 0; i < kLinks; ++i) outer = link(outer);
    auto top = kaa::detail::Access::make<kaa::Coroutine<int>>(outer, kaa::detail::adopt_coroutine);
    EXPECT_THROW(top.abort(), kaa::InProgressAborted);
    EXPECT_TRUE(leaf.failed());
    EXPECT_TRUE(top.failed());
}

// docs/semantics.md [coro.abort.4] at scale: the cascade walks a million links without growing
// the stack, and keeps its order: each link's awaited one is finished before the link sees
// the exception (innermost first); the origin is the outermost.
TEST(CoroutineStress, AbortOfAMillionLinkChainDoesNotOverflowTheStack) {
    std::vector<int> seen;
    seen.reserve(static_cast<std::size_t>(kLongChain));
    kaa::InProgress<int> leaf({.abortable = true});
    auto top = long_recording_chain(leaf, &seen);
    try {
        top.abort();
        ADD_FAILURE() << "abort() did not rethrow the uncaught InProgressAborted";
    } catch (const kaa::InProgressAborted& e) {
        EXPECT_TRUE(e.origin() == top);
    }
    EXPECT_TRUE(leaf.failed());
    EXPECT_TRUE(top.failed());
    EXPECT_TRUE(innermost_first(seen)) << seen.size() << " links saw the abort";
}

// docs/semantics.md [coro.life.3], [loop.shutdown.1] at scale: the shutdown of a million
// suspended links stays flat. Every link is held by a handle (the test holds the outermost,
// each link's parameter the next), so every body is unwound and sees the abort.
TEST(CoroutineStress, ShutdownOfAMillionSuspendedLinksDoesNotOverflowTheStack) {
    std::vector<int> seen;
    seen.reserve(static_cast<std::size_t>(kLongChain));
    kaa::InProgress<int> leaf({.abortable = true});
    auto top = long_recording_chain(leaf, &seen);
    kaa::main::post([] { kaa::main::stop(); });
    kaa::main::run();  // its shutdown sequence ends the suspended frames
    EXPECT_TRUE(leaf.failed());
    EXPECT_TRUE(top.failed());
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(kLongChain));
}

namespace {
struct CountOnDestroy {
    long* count;
    ~CountOnDestroy() { ++*count; }
};
/// Awaits `inner` (moved into the await: only the awaiter holds it), counting destructions and
/// catches.
kaa::Coroutine<> counted_link(kaa::InProgress<> inner, long* destroyed, long* caught) {
    CountOnDestroy guard{destroyed};
    try {
        co_await std::move(inner);
    } catch (const kaa::InProgressAborted&) {
        ++*caught;
        throw;
    }
}
}  // namespace

// [coro.life.3] at scale: a fire-and-forget chain (each link held only by the link awaiting it)
// is destroyed at shutdown without an exception thrown into any frame: every destructor runs,
// no catch block does, and the leaf nothing else waits for is aborted.
TEST(CoroutineStress, ShutdownDestroysAFireAndForgetChainWithoutThrowingIntoIt) {
    constexpr int kDepth = 100'000;
    long destroyed = 0;
    long caught = 0;
    kaa::InProgress<> leaf({.abortable = true});
    kaa::InProgress<> top = leaf;
    for (int i = 0; i < kDepth; ++i) top = counted_link(std::move(top), &destroyed, &caught);
    top = kaa::InProgress<>();  // no handle kept
    kaa::main::post([] { kaa::main::stop(); });
    kaa::main::run();
    EXPECT_TRUE(leaf.failed());
    EXPECT_EQ(destroyed, kDepth);
    EXPECT_EQ(caught, 0);
}

// POLICY_SYNCHRONIZED: 100,000 queued calls that each finish as soon as they start run one
// after another inside the first call's finish, without growing the stack.
TEST(CoroutineStress, LongSynchronizedQueueDrainsWithoutStackGrowth) {
    int ran = 0;
    auto sync = kaa::coroutine({.policy = kaa::POLICY_SYNCHRONIZED},
                               [](int* ran, kaa::InProgress<> gate) -> kaa::Coroutine<> {
                                   co_await gate;
                                   ++*ran;
                               });
    kaa::InProgress<> gate;
    auto first = sync(&ran, gate);
    kaa::InProgress<> done = kaa::InProgress<>().finish();
    kaa::Coroutine<> last = first;
    for (int i = 1; i < kChain; ++i) last = sync(&ran, done);
    EXPECT_EQ(ran, 0);
    gate.finish();
    EXPECT_EQ(ran, kChain);
    EXPECT_TRUE(last.finished());
}

// Many coroutines awaiting one InProgress are resumed in order by its finish().
TEST(CoroutineStress, HundredThousandWaitersOnOneInProgress) {
    kaa::InProgress<> gate;
    std::vector<kaa::Coroutine<>> waiters;
    waiters.reserve(kChain);
    for (int i = 0; i < kChain; ++i) waiters.push_back(wait_for(gate));
    gate.finish();
    for (auto& w : waiters) ASSERT_TRUE(w.finished());
}

// DESIGN: at most one heap allocation per coroutine call — the frame, which holds the
// InProgress state — and none at all once the frame free list is warm.
TEST(CoroutineStress, OneAllocationPerCallAtMost) {
    constexpr int kCalls = 10'000;
    kaa::InProgress<> gate;
    std::vector<kaa::Coroutine<>> waiters;
    waiters.reserve(kCalls);
    {
        // First use on this thread (the loop, per-thread caches) is not what is counted: run
        // alone, this test would otherwise see those one-time allocations.
        kaa::InProgress<> warmup;
        auto c = wait_for(warmup);
        warmup.finish();
    }
    long cold;
    {
        CountAllocations count;
        for (int i = 0; i < kCalls; ++i) waiters.push_back(wait_for(gate));
        cold = count.count();
    }
    // Suspended frames all alive: one allocation each at most, plus a logarithmic few that
    // are shared (arena regions; with the debug aids, the growth of their table of places).
    EXPECT_LE(cold, kCalls + 32);
    gate.finish();
    waiters.clear();  // the frames go to the free list

    long warm;
    {
        constexpr int kWarmCalls = 1'000;  // within what the free list keeps per size class
        kaa::InProgress<> gate2;
        CountAllocations count;
        for (int i = 0; i < kWarmCalls; ++i) waiters.push_back(wait_for(gate2));
        gate2.finish();
        waiters.clear();
        warm = count.count();
    }
    EXPECT_EQ(warm, 0);  // served from the free list; awaiting allocates nothing

    long steady;
    {
        // As above: a first call of this shape may allocate once (per-thread bookkeeping).
        auto first = link(kaa::InProgress<int>().finish(0));
        if (first.result() != 1) ADD_FAILURE();
    }
    {
        CountAllocations count;
        for (int i = 0; i < kCalls; ++i) {
            auto c = link(kaa::InProgress<int>().finish(i));  // + the InProgress's own state
            if (c.result() != i + 1) ADD_FAILURE();
        }
        steady = count.count();
    }
    EXPECT_LE(steady, kCalls);  // only the plain InProgress states
}

// NotFinished yields cost no allocation either once the ready queue has grown.
TEST(CoroutineStress, NotFinishedResumptionsDoNotAllocate) {
    auto spin = [](int n) -> kaa::Coroutine<int> {
        for (int i = 0; i < n; ++i) co_await kaa::NotFinished;
        co_return n;
    };
    auto warmup = spin(10);
    kaa::main::loop([&] { return !warmup.finished(); }, std::chrono::seconds(5));
    auto c = spin(1000);
    long n;
    {
        CountAllocations count;
        kaa::main::loop([&] { return !c.finished(); }, std::chrono::seconds(10));
        n = count.count();
    }
    EXPECT_EQ(c.result(), 1000);
    EXPECT_EQ(n, 0);
}

namespace {
/// Awaits `inner.timeout(1h, {}, abort=true)`: aborting the timeout InProgress aborts `inner`
/// from the timeout's abort listener, one nested abort per link.
kaa::Coroutine<> timeout_link(kaa::InProgress<> inner) {
    co_await inner.timeout(std::chrono::hours(1), {}, true);
}
}  // namespace

// [ip.abort.8]: an abort cascading through abort listeners (each link awaits the next one's
// timeout with abort=true) is bounded in stack depth: 100,000 links abort without overflowing.
TEST(CoroutineStress, AbortThroughTimeoutListenersOfALongChainDoesNotOverflowTheStack) {
    constexpr int kLinks = 100'000;
    kaa::InProgress<> leaf({.abortable = true});
    std::vector<kaa::InProgress<>> links;
    links.reserve(kLinks);
    kaa::InProgress<> cur = leaf;
    for (int i = 0; i < kLinks; ++i) {
        cur = timeout_link(cur);
        links.push_back(cur);
    }
    EXPECT_THROW(links.back().abort(), kaa::InProgressAborted);
    EXPECT_TRUE(leaf.failed());
    int failed = 0;
    for (auto& l : links) failed += l.failed() ? 1 : 0;
    EXPECT_EQ(failed, kLinks);
}

// [ip.abort.8], [coro.life.3]: the same chain ended by the loop's shutdown.
TEST(CoroutineStress, ShutdownThroughTimeoutListenersOfALongChainDoesNotOverflowTheStack) {
    constexpr int kLinks = 100'000;
    kaa::test::ReportCapture reports;
    kaa::InProgress<> leaf({.abortable = true});
    kaa::InProgress<> cur = leaf;
    for (int i = 0; i < kLinks; ++i) cur = timeout_link(std::move(cur));
    kaa::InProgress<> top = cur;
    cur = kaa::InProgress<>();
    kaa::main::post([] { kaa::main::stop(); });
    kaa::main::run();
    EXPECT_TRUE(top.failed());
    EXPECT_TRUE(leaf.failed());
    EXPECT_EQ(reports.count(), 0u) << (reports.count() ? reports.messages()[0] : "");
}
