// kaa::Coroutine<T>: eager start, the await protocol, resumption timing, interval, lifetime
// (docs/semantics.md [coro], [check.A1]–[check.A13]). Policies and progress are in
// coroutine_policy_test.cpp, abort in coroutine_abort_test.cpp.

#include <kaa/kaa.hpp>

#include "test_util.hpp"

#include <gtest/gtest.h>

#include "coroutine_util.hpp"

#include <chrono>
#include <concepts>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

using kaa::test::Boom;
using kaa::test::Finally;
using kaa::test::Log;

kaa::Coroutine<int> step_and_return(Log* log, int value) {
    log->push_back("before");
    co_await kaa::NotFinished;
    log->push_back("after");
    co_return value;
}

kaa::Coroutine<int> await_then_add(Log* log, kaa::InProgress<int> ip, int add) {
    log->push_back("before");
    int v = co_await ip;
    log->push_back("after " + std::to_string(v));
    co_return v + add;
}

/// Runs loop iterations until `done()` (at most 5 s, so a bug fails instead of hanging).
template <class Cond>
void loop_until(Cond done) {
    kaa::main::loop([&] { return !done(); }, 5s);
}

}  // namespace

// [check.A1]
TEST(Coroutine, BodyRunsSynchronouslyUpToFirstNotFinished) {
    Log log;
    auto c = step_and_return(&log, 1);
    EXPECT_EQ(log, (Log{"before"}));
    EXPECT_FALSE(c.finished());
    loop_until([&] { return c.finished(); });
    EXPECT_EQ(c.result(), 1);
}

// [check.A1]
TEST(Coroutine, BodyRunsSynchronouslyUpToFirstUnfinishedAwait) {
    Log log;
    kaa::InProgress<int> ip;
    auto c = await_then_add(&log, ip, 1);
    EXPECT_EQ(log, (Log{"before"}));
    EXPECT_FALSE(c.finished());
    ip.finish(1);
    EXPECT_EQ(c.result(), 2);
}

// [check.A2]
TEST(Coroutine, FirstStepReturningValueGivesFinishedCoroutine) {
    auto c = []() -> kaa::Coroutine<std::string> { co_return "done"; }();
    ASSERT_TRUE(c.finished());
    EXPECT_FALSE(c.failed());
    EXPECT_EQ(c.result(), "done");
    // A finished coroutine is still a CoroutineInProgress (kaa: always returned).
    kaa::CoroutineInProgress<std::string>& same = c;
    EXPECT_FALSE(same.active());
}

// [check.A2]
TEST(Coroutine, CoroutineEndingWithoutValueFinishesWithNothing) {
    bool called = false;
    auto c = []() -> kaa::Coroutine<> { co_return; }();
    ASSERT_TRUE(c.finished());
    EXPECT_FALSE(c.failed());
    c.result();  // void: does not throw
    c.connect([&] { called = true; });
    EXPECT_TRUE(called);
    auto falls_off = []() -> kaa::Coroutine<> { co_await kaa::InProgress<int>().finish(1); }();
    EXPECT_TRUE(falls_off.finished());
    EXPECT_FALSE(falls_off.failed());
}

// [check.A3]
TEST(Coroutine, FirstStepExceptionPropagatesToCallerAndIsNotReported) {
    kaa::test::ReportCapture reports;
    kaa::test::Counted::reset();
    auto thrower = [](kaa::test::Counted local) -> kaa::Coroutine<int> {
        kaa::test::Counted inner{local.value};
        throw Boom();
        co_return inner.value;
    };
    EXPECT_THROW(thrower(kaa::test::Counted{1}), Boom);
    EXPECT_EQ(kaa::test::Counted::alive(), 0);  // frame, parameter and locals destroyed
    EXPECT_EQ(reports.count(), 0u);
}

// [check.A3]
TEST(Coroutine, FirstStepBaseExceptionPropagatesToCaller) {
    kaa::test::ReportCapture reports;
    auto exits = []() -> kaa::Coroutine<> {
        throw kaa::SystemExit("bye");
        co_return;
    };
    EXPECT_THROW(exits(), kaa::SystemExit);
    EXPECT_EQ(reports.count(), 0u);
}

// [check.A4]
TEST(Coroutine, ExceptionAfterSuspensionFailsTheInProgress) {
    kaa::test::ReportCapture reports;
    kaa::InProgress<int> ip;
    auto c = [](kaa::InProgress<int> ip) -> kaa::Coroutine<int> {
        co_await ip;
        throw Boom();
    }(ip);
    EXPECT_FALSE(c.finished());
    ip.finish(1);  // does not throw: the failure goes into the coroutine's InProgress
    ASSERT_TRUE(c.finished());
    EXPECT_TRUE(c.failed());
    EXPECT_THROW(c.result(), Boom);
    c = kaa::detail::Access::make<kaa::Coroutine<int>>(kaa::InProgress<int>().finish(0),
                                                       kaa::detail::adopt_coroutine);
    EXPECT_EQ(reports.count(), 0u);  // result() consumed it
}

// [check.A4]
TEST(Coroutine, UnconsumedFailureAfterSuspensionIsReportedOnce) {
    kaa::test::ReportCapture reports;
    kaa::InProgress<> ip;
    {
        auto c = [](kaa::InProgress<> ip) -> kaa::Coroutine<> {
            co_await ip;
            throw Boom();
        }(ip);
    }
    ip.finish();
    ASSERT_EQ(reports.count(), 1u);
    // Named after the coroutine ([core.report], kaa/debug.hpp).
    EXPECT_EQ(reports.contexts()[0].rfind("Unhandled InProgress exception in coroutine", 0), 0u);
    EXPECT_NE(reports.messages()[0].find("boom"), std::string::npos);
}

// [check.A5]: kaa raises TypeError when the decorated function is not a generator; C++ rejects a
// callable that does not return kaa::Coroutine<T> at compile time.
namespace coroutine_test_a5 {
int not_a_coroutine_function(int x);  // only named in unevaluated contexts
kaa::Coroutine<int> a_coroutine_function(int x) { co_return x; }
struct Widget {
    int plain(int x) { return x; }
    kaa::Coroutine<int> coro(int x) { co_return x; }
};
}  // namespace coroutine_test_a5
using namespace coroutine_test_a5;

// kaa::coroutine() static_asserts on a callable whose return type it can see (the assertion's
// condition is kaa::detail::may_return_coroutine):
static_assert(!kaa::detail::may_return_coroutine<decltype(&not_a_coroutine_function)>);
static_assert(!kaa::detail::may_return_coroutine<decltype(&Widget::plain)>);
static_assert(!kaa::detail::may_return_coroutine<decltype([](int x) { return x; })>);
static_assert(kaa::detail::may_return_coroutine<decltype(&a_coroutine_function)>);
static_assert(kaa::detail::may_return_coroutine<decltype(&Widget::coro)>);
// A generic callable's result is only known at the call: the wrapper is not invocable.
static_assert(!std::invocable<decltype(kaa::coroutine([](auto x) { return x; })), int>);
static_assert(std::invocable<decltype(kaa::coroutine(&a_coroutine_function)), int>);
static_assert(!std::invocable<decltype(kaa::coroutine(&a_coroutine_function)), std::string>);
static_assert(std::invocable<decltype(kaa::coroutine(&Widget::coro)), Widget&, int>);
static_assert(!std::invocable<decltype(kaa::coroutine(&Widget::coro)), int>);  // no object
static_assert(kaa::is_coroutine_v<kaa::Coroutine<int>>);
static_assert(!kaa::is_coroutine_v<kaa::InProgress<int>>);

TEST(Coroutine, NonCoroutineCallableIsRejectedAtCompileTime) {
    // [check.A5] (the static_asserts above are the test; this checks the good case runs).
    auto wrapped = kaa::coroutine(&a_coroutine_function);
    EXPECT_EQ(wrapped(5).result(), 5);
    auto generic = kaa::coroutine([](auto x) -> kaa::Coroutine<int> { co_return (x * 2); });
    EXPECT_EQ(generic(4).result(), 8);
}

// [check.A6]
TEST(Coroutine, NotFinishedResumesAfterExactlyOneLoopStep) {
    int resumed = 0;
    auto c = [](int* resumed) -> kaa::Coroutine<> {
        co_await kaa::NotFinished;
        ++*resumed;
        co_await kaa::NotFinished;
        ++*resumed;
    }(&resumed);
    EXPECT_EQ(resumed, 0);  // not inside the call
    // Finishing unrelated InProgress objects does not resume it either.
    kaa::InProgress<int>().finish(1);
    EXPECT_EQ(resumed, 0);
    kaa::main::step();
    EXPECT_EQ(resumed, 1);
    kaa::main::step();
    EXPECT_EQ(resumed, 2);
    EXPECT_TRUE(c.finished());
}

// [check.A7]
TEST(Coroutine, AwaitingFinishedInProgressDoesNotSuspend) {
    Log log;
    auto c = await_then_add(&log, kaa::InProgress<int>().finish(5), 1);
    ASSERT_TRUE(c.finished());
    EXPECT_EQ(c.result(), 6);
    EXPECT_EQ(log, (Log{"before", "after 5"}));
}

// [check.A7]
TEST(Coroutine, AwaitingFailedInProgressThrowsAtAwait) {
    kaa::test::ReportCapture reports;
    {
        kaa::InProgress<int> failed;
        failed.throw_exception(Boom());
        auto c = [](kaa::InProgress<int> ip) -> kaa::Coroutine<std::string> {
            try {
                co_await ip;
            } catch (const Boom& e) {
                co_return std::string("caught ") + e.what();
            }
            co_return "not thrown";
        }(failed);
        ASSERT_TRUE(c.finished());
        EXPECT_EQ(c.result(), "caught boom");
    }
    EXPECT_EQ(reports.count(), 0u);  // the coroutine consumed the failure ([ip.handled.2])
}

// [check.A7]
TEST(Coroutine, AwaitedFailureLaterIsThrownAtAwaitAndConsumed) {
    kaa::test::ReportCapture reports;
    {
        kaa::InProgress<int> ip;
        auto c = [](kaa::InProgress<int> ip) -> kaa::Coroutine<bool> {
            try {
                co_await ip;
            } catch (const Boom&) {
                co_return true;
            }
            co_return false;
        }(ip);
        ip.throw_exception(Boom());
        EXPECT_TRUE(c.result());
    }
    EXPECT_EQ(reports.count(), 0u);
}

// [check.A8]
TEST(Coroutine, FinishingAwaitedInProgressResumesBeforeFinishReturns) {
    Log log;
    kaa::InProgress<int> ip;
    auto c = await_then_add(&log, ip, 10);
    log.push_back("finish");
    ip.finish(1);
    log.push_back("returned");
    EXPECT_EQ(log, (Log{"before", "finish", "after 1", "returned"}));
    EXPECT_EQ(c.result(), 11);
}

// [check.A8]
TEST(Coroutine, AwaitingAnotherCoroutineResumesWhenItFinishes) {
    Log log;
    kaa::InProgress<int> ip;
    auto outer = [](Log* log, kaa::InProgress<int> ip) -> kaa::Coroutine<int> {
        int v = co_await await_then_add(log, ip, 1);
        log->push_back("outer " + std::to_string(v));
        co_return (v * 10);
    }(&log, ip);
    ip.finish(1);
    EXPECT_EQ(log, (Log{"before", "after 1", "outer 2"}));
    EXPECT_EQ(outer.result(), 20);
}

// [check.A9]
TEST(Coroutine, IntervalDelaysResumptionAfterNotFinished) {
    using clock = std::chrono::steady_clock;
    std::vector<clock::time_point> at;
    auto timed = kaa::coroutine({.interval = 60ms},
                                [](std::vector<clock::time_point>* at) -> kaa::Coroutine<> {
                                    at->push_back(clock::now());
                                    co_await kaa::NotFinished;
                                    at->push_back(clock::now());
                                });
    auto c = timed(&at);
    ASSERT_EQ(at.size(), 1u);  // the first step still runs synchronously
    // Something due in this step, so it does not block: an interval-0 coroutine would resume.
    auto other = []() -> kaa::Coroutine<> { co_await kaa::NotFinished; }();
    kaa::main::step();
    EXPECT_TRUE(other.finished());
    EXPECT_EQ(at.size(), 1u);
    loop_until([&] { return c.finished(); });
    ASSERT_EQ(at.size(), 2u);
    EXPECT_GE(at[1] - at[0], 60ms);
}

// [check.A9]
TEST(Coroutine, IntervalDelaysEveryResumption) {
    using clock = std::chrono::steady_clock;
    std::vector<clock::time_point> at;
    kaa::InProgress<int> ip;
    auto c = kaa::coroutine({.interval = 60ms},
                            [](std::vector<clock::time_point>* at,
                               kaa::InProgress<int> ip) -> kaa::Coroutine<int> {
                                at->push_back(clock::now());
                                co_await kaa::NotFinished;
                                at->push_back(clock::now());
                                int v = co_await ip;
                                at->push_back(clock::now());
                                co_return v;
                            })(&at, ip);
    ASSERT_EQ(at.size(), 1u);
    loop_until([&] { return at.size() == 2; });
    ASSERT_EQ(at.size(), 2u);
    EXPECT_GE(at[1] - at[0], 60ms);
    const auto finished_at = clock::now();
    ip.finish(7);
    EXPECT_EQ(at.size(), 2u);  // not resumed inline: the interval applies
    loop_until([&] { return c.finished(); });
    ASSERT_EQ(at.size(), 3u);
    EXPECT_GE(at[2] - finished_at, 60ms);
    EXPECT_EQ(c.result(), 7);
}

// [check.A9]
TEST(Coroutine, IntervalIsReported) {
    auto c = kaa::coroutine({.interval = 25ms},
                            []() -> kaa::Coroutine<> { co_await kaa::NotFinished; })();
    EXPECT_EQ(c.interval(), 25ms);
    c.set_interval(0ms);
    EXPECT_EQ(c.interval(), 0ms);
    loop_until([&] { return c.finished(); });
    EXPECT_TRUE(c.finished());
}

// [check.A10]
TEST(Coroutine, SettingIntervalRestartsPendingNotFinishedResumption) {
    using clock = std::chrono::steady_clock;
    bool resumed = false;
    auto c = [](bool* resumed) -> kaa::Coroutine<> {
        co_await kaa::NotFinished;
        *resumed = true;
    }(&resumed);
    const auto set_at = clock::now();
    c.set_interval(80ms);
    kaa::main::step();  // would have resumed it with interval 0
    EXPECT_FALSE(resumed);
    loop_until([&] { return resumed; });
    ASSERT_TRUE(resumed);
    EXPECT_GE(clock::now() - set_at, 80ms);
}

// [check.A10]
TEST(Coroutine, ShorteningIntervalRestartsPendingTimer) {
    using clock = std::chrono::steady_clock;
    bool resumed = false;
    auto c = kaa::coroutine({.interval = 1h}, [](bool* resumed) -> kaa::Coroutine<> {
        co_await kaa::NotFinished;
        *resumed = true;
    })(&resumed);
    const auto start = clock::now();
    c.set_interval(10ms);
    loop_until([&] { return resumed; });
    EXPECT_TRUE(resumed);
    EXPECT_LT(clock::now() - start, 5s);
}

// [check.A11]
TEST(Coroutine, ActiveWhileResumableAndFalseAfterwards) {
    Log log;
    kaa::InProgress<int> a, b;
    auto ok = await_then_add(&log, a, 0);
    EXPECT_TRUE(ok.active());
    a.finish(1);
    EXPECT_FALSE(ok.active());

    auto fails = [](kaa::InProgress<int> ip) -> kaa::Coroutine<> {
        co_await ip;
        throw Boom();
    }(b);
    EXPECT_TRUE(fails.active());
    b.finish(1);
    EXPECT_FALSE(fails.active());
    EXPECT_THROW(fails.result(), Boom);

    auto aborted = [](kaa::InProgress<int> ip) -> kaa::Coroutine<> {
        co_await ip;
    }(kaa::InProgress<int>());
    EXPECT_TRUE(aborted.active());
    EXPECT_THROW(aborted.abort(), kaa::InProgressAborted);
    EXPECT_FALSE(aborted.active());
}

// [check.A12]
TEST(Coroutine, LocalsAreDestroyedBeforeResultListeners) {
    Log log;
    kaa::InProgress<> ip;
    auto c = [](Log* log, kaa::InProgress<> ip) -> kaa::Coroutine<int> {
        Finally cleanup{log, "finally"};
        co_await ip;
        co_return 3;
    }(&log, ip);
    c.connect([&](int v) { log.push_back("result " + std::to_string(v)); });
    ip.finish();
    EXPECT_EQ(log, (Log{"finally", "result 3"}));
}

// [check.A12]
TEST(Coroutine, LocalsAreDestroyedBeforeExceptionListeners) {
    Log log;
    kaa::InProgress<> ip;
    auto c = [](Log* log, kaa::InProgress<> ip) -> kaa::Coroutine<> {
        Finally cleanup{log, "finally"};
        co_await ip;
        throw Boom();
    }(&log, ip);
    c.connect_exception([&](std::exception_ptr) {
        log.push_back("exception");
        return false;
    });
    ip.finish();
    EXPECT_EQ(log, (Log{"finally", "exception"}));
}

// [check.A13]
TEST(Coroutine, UnreferencedRunningCoroutineRunsToCompletion) {
    kaa::test::Counted::reset();
    int progress = 0;
    kaa::InProgress<> ip;
    [](int* progress, kaa::InProgress<> ip, kaa::test::Counted) -> kaa::Coroutine<> {
        ++*progress;
        co_await kaa::NotFinished;
        ++*progress;
        co_await ip;
        ++*progress;
    }(&progress, ip, kaa::test::Counted{1});  // handle dropped at once
    EXPECT_EQ(progress, 1);
    EXPECT_EQ(kaa::test::Counted::alive(), 1);  // the frame (with its parameter) lives on
    loop_until([&] { return progress == 2; });
    EXPECT_EQ(progress, 2);
    ip.finish();
    EXPECT_EQ(progress, 3);
    EXPECT_EQ(kaa::test::Counted::alive(), 0);  // and is freed once done
}

TEST(Coroutine, FrameIsFreedWhenDoneAndLastHandleGoes) {
    kaa::test::Counted::reset();
    kaa::InProgress<> ip;
    {
        auto c = [](kaa::InProgress<> ip, kaa::test::Counted) -> kaa::Coroutine<> {
            co_await ip;
        }(ip, kaa::test::Counted{1});
        ip.finish();
        EXPECT_EQ(kaa::test::Counted::alive(), 1);  // done, but a handle remains
    }
    EXPECT_EQ(kaa::test::Counted::alive(), 0);
}

TEST(Coroutine, CoroutineIsAnInProgress) {
    Log log;
    kaa::InProgress<int> ip;
    kaa::Coroutine<int> c = await_then_add(&log, ip, 1);
    kaa::InProgress<int> as_ip = c;  // same operation
    EXPECT_EQ(as_ip, c);
    int got = 0;
    as_ip.connect([&](int v) { got = v; });
    ip.finish(1);
    EXPECT_EQ(got, 2);
    EXPECT_EQ(as_ip.wait(), 2);
}

TEST(Coroutine, AwaitedAbortIsRetargetedToTheAwaitedInProgress) {
    // docs/semantics.md [coro.await.4]: a failed prerequisite holding an InProgressAborted about
    // something else is thrown as a copy naming the prerequisite, with the same origin.
    kaa::InProgress<> origin({.abortable = true});
    kaa::InProgress<> ip;
    ip.throw_exception(kaa::InProgressAborted("elsewhere", origin, origin));
    auto c = [](kaa::InProgress<> ip, kaa::InProgress<> origin) -> kaa::Coroutine<bool> {
        try {
            co_await ip;
        } catch (const kaa::InProgressAborted& e) {
            co_return (e.inprogress() == ip && e.origin() == origin);
        }
        co_return false;
    }(ip, origin);
    EXPECT_TRUE(c.result());
}

TEST(Coroutine, AwaitingTypeErasedInProgressWaitsForIt) {
    kaa::InProgress<int> typed;
    kaa::InProgressBase erased = typed;
    auto c = [](kaa::InProgressBase ip) -> kaa::Coroutine<bool> {
        co_await ip;
        co_return true;
    }(erased);
    EXPECT_FALSE(c.finished());
    typed.finish(1);
    EXPECT_TRUE(c.result());
}

TEST(Coroutine, ResumesOnLoopThreadWhenFinishedFromAnotherThread) {
    kaa::InProgress<int> ip;
    std::thread::id resumed_on;
    auto c = [](kaa::InProgress<int> ip, std::thread::id* on) -> kaa::Coroutine<int> {
        int v = co_await ip;
        *on = std::this_thread::get_id();
        co_return v;
    }(ip, &resumed_on);
    std::thread worker([ip]() mutable { ip.finish(9); });
    EXPECT_EQ(c.wait(5s), 9);
    worker.join();
    EXPECT_EQ(resumed_on, std::this_thread::get_id());
}

// [coro.resume.3]: the interval is a fixed rate. Each step busy-spins 30 ms of a 60 ms
// interval (time passing, not synchronisation); the next resumption is due one interval after
// the previous one was due, not one interval after the suspension, so the armed deadlines lie
// on one grid (missed periods would be skipped, so consecutive ones differ by a multiple).
TEST(Coroutine, IntervalIsAFixedRateCountedFromThePreviousResumption) {
    using clock = std::chrono::steady_clock;
    int steps = 0;
    auto c = kaa::coroutine({.interval = 60ms}, [](int* steps) -> kaa::Coroutine<> {
        for (int i = 0; i < 4; ++i) {
            const auto until = clock::now() + 30ms;
            while (clock::now() < until) {
            }
            ++*steps;
            co_await kaa::NotFinished;
        }
    })(&steps);
    const auto& co = kaa::detail::Access::coroutine_base(c);
    std::vector<clock::time_point> due;
    ASSERT_NE(co.timer(), nullptr);
    due.push_back(co.timer()->due);
    while (!c.finished()) {
        const int before = steps;
        loop_until([&] { return steps != before || c.finished(); });
        if (!c.finished()) due.push_back(co.timer()->due);
    }
    ASSERT_EQ(due.size(), 4u);
    for (std::size_t i = 1; i < due.size(); ++i) {
        const auto step = due[i] - due[i - 1];
        EXPECT_GT(step, 0ms);
        EXPECT_EQ(step % std::chrono::nanoseconds(60ms), 0ns) << "resumption " << i;
    }
}

// ---------------------------------------------------------------- loop shutdown ([coro.life.3])

namespace {
struct ShutdownProbe {
    int destroyed = 0;
    int caught = 0;
    int after_await = 0;
};
kaa::Coroutine<> probed_wait(kaa::InProgress<> never, ShutdownProbe* p) {
    struct Guard {
        ShutdownProbe* p;
        ~Guard() { ++p->destroyed; }
    } guard{p};
    try {
        co_await never;
        ++p->after_await;
    } catch (const kaa::InProgressAborted&) {
        ++p->caught;
    }
}
}  // namespace

// [coro.life.3]: a suspended coroutine nothing holds is destroyed at loop shutdown: its
// destructors run, no exception is thrown into it (no catch block, no code after the await),
// and its InProgress fails with the shutdown abort, which is not reported.
TEST(CoroutineShutdown, UnheldSuspendedFrameIsDestroyedWithoutAThrow) {
    kaa::test::ReportCapture reports;
    ShutdownProbe p;
    kaa::InProgress<> never;
    std::string failure;
    int abort_listener_calls = 0;
    {
        auto c = probed_wait(never, &p);
        c.connect_abort([&](const kaa::InProgressAborted&) {
            ++abort_listener_calls;
            return true;
        });
        c.connect_both([] {},
                       [&](std::exception_ptr e) {
                           failure = kaa::describe_exception(e);
                           return true;
                       });
    }  // no handle left: the frame holds itself
    kaa::main::post([] { kaa::main::stop(); });
    kaa::main::run();
    EXPECT_EQ(p.destroyed, 1);
    EXPECT_EQ(p.caught, 0);
    EXPECT_EQ(p.after_await, 0);
    EXPECT_NE(failure.find("main loop shut down"), std::string::npos) << failure;
    EXPECT_EQ(abort_listener_calls, 1);
    EXPECT_FALSE(never.finished());  // not abortable: left alone
    EXPECT_EQ(reports.count(), 0u);
}

// [coro.life.3]: a suspended coroutine a handle still refers to is unwound at shutdown (the
// abort is thrown at its suspension point), so its cleanup runs then, not when the handle goes.
TEST(CoroutineShutdown, HeldSuspendedFrameIsUnwoundAtShutdown) {
    kaa::test::ReportCapture reports;
    ShutdownProbe p;
    kaa::InProgress<> never;
    auto c = probed_wait(never, &p);
    kaa::main::post([] { kaa::main::stop(); });
    kaa::main::run();
    EXPECT_EQ(p.caught, 1);
    EXPECT_EQ(p.destroyed, 1);  // locals are gone although `c` lives on
    EXPECT_TRUE(c.finished());
    EXPECT_EQ(reports.count(), 0u);
}

// [coro.life.3], [coro.abort.4]: at shutdown what a destroyed frame awaited is aborted if nothing
// else waits for it (a delay's timer is cancelled, its InProgress fails).
TEST(CoroutineShutdown, AwaitedDelayOfADestroyedFrameIsAborted) {
    kaa::InProgress<> d = kaa::delay(1h);
    ShutdownProbe p;
    [](kaa::InProgress<> d, ShutdownProbe* p) -> kaa::Coroutine<> {
        ShutdownProbe* q = p;
        struct Guard {
            ShutdownProbe* p;
            ~Guard() { ++p->destroyed; }
        } guard{q};
        co_await d;
    }(d, &p);
    kaa::main::post([] { kaa::main::stop(); });
    kaa::main::run();
    EXPECT_EQ(p.destroyed, 1);
    // Only the test's handle waits no more: the coroutine was the only waiter, so it is aborted.
    EXPECT_TRUE(d.failed());
}

// [check.invariants]: a coroutine is never resumed after it ended.
TEST(CoroutineDeathTest, ResumingAnEndedCoroutineIsAnInvariantViolation) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    auto c = []() -> kaa::Coroutine<int> { co_return 1; }();
    ASSERT_TRUE(c.finished());
    EXPECT_DEBUG_DEATH(kaa::detail::Access::coroutine_base(c).resume_now(),
                       "kaa invariant: a coroutine resumed after it ended");
}
