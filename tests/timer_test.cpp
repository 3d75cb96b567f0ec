// Tests for kaa/timer.hpp: Timer, OneShotTimer, WeakTimer, timed, the At timers, and the loop's
// timer phase (batching, cancellation, exceptions, nested loops, a million pending timers).
// docs/semantics.md [check.F84]–[check.F88] and [loop.phase], [timer].
//
// Every test drives the loop with main::step() while something is due (a Ticker: an interval-0
// timer due in every iteration) or with main::loop(cond, timeout); none sleeps.

#include <kaa/main.hpp>
#include <kaa/timer.hpp>

#include <kaa/detail/loop.hpp>

#include "test_util.hpp"

#include <gtest/gtest.h>

#include "loop_util.hpp"

#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

// The million-timer tests keep 1,000,000 timers in the normal build; under TSan, whose
// per-access cost would make them take minutes, they use fewer. -DKAA_TEST_MANY_TIMERS=n
// overrides.
#ifndef KAA_TEST_MANY_TIMERS
#if defined(__SANITIZE_THREAD__)
#define KAA_TEST_MANY_TIMERS 100'000
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KAA_TEST_MANY_TIMERS 100'000
#endif
#endif
#endif
#ifndef KAA_TEST_MANY_TIMERS
#define KAA_TEST_MANY_TIMERS 1'000'000
#endif
constexpr int kManyTimers = KAA_TEST_MANY_TIMERS;

namespace {

using Clock = std::chrono::steady_clock;

using kaa::test::steps;
using kaa::test::Ticker;

struct Owner {
    int calls = 0;
    void tick() { ++calls; }
};

}  // namespace

// ---------------------------------------------------------------- Timer

// [check.F84]
TEST(Timer, IntervalZeroFiresOncePerStep) {
    int calls = 0;
    kaa::Timer t([&] { ++calls; });
    t.start(0ns);
    steps(5);
    EXPECT_EQ(calls, 5);
    EXPECT_TRUE(t.active());
    t.stop();
}

// [check.F84]
TEST(Timer, CallbackReturningFalseStopsIt) {
    Ticker ticker;
    int calls = 0;
    kaa::Timer t([&] { return ++calls < 3; });
    t.start(0ns);
    steps(6);
    EXPECT_EQ(calls, 3);
    EXPECT_FALSE(t.active());
    EXPECT_FALSE(t.interval().has_value());
}

// [check.F84]
TEST(Timer, VoidOrNonBoolResultKeepsItRunning) {
    int void_calls = 0;
    int int_calls = 0;
    kaa::Timer v([&] { ++void_calls; });
    kaa::Timer i([&] {
        ++int_calls;
        return 0;  // only an explicit bool false counts
    });
    v.start(0ns);
    i.start(0ns);
    steps(4);
    EXPECT_EQ(void_calls, 4);
    EXPECT_EQ(int_calls, 4);
    EXPECT_TRUE(v.active());
    EXPECT_TRUE(i.active());
    v.stop();
    i.stop();
}

// [timer.timer.1]
TEST(Timer, IsCreatedStoppedAndStopIsIdempotent) {
    kaa::Timer t([] {});
    EXPECT_FALSE(t.active());
    EXPECT_FALSE(t.interval().has_value());
    t.start(1h);
    EXPECT_TRUE(t.active());
    EXPECT_EQ(t.interval(), std::chrono::nanoseconds(1h));
    t.stop();
    t.stop();
    EXPECT_FALSE(t.active());
    EXPECT_FALSE(t.interval().has_value());
}

// [timer.timer.3]
TEST(Timer, PassesItsBoundArguments) {
    std::vector<std::string> seen;
    kaa::OneShotTimer t([&](int n, const std::string& s) { seen.push_back(std::to_string(n) + s); },
                        7, std::string("x"));
    Ticker ticker;
    t.start(0ns);
    steps(2);
    EXPECT_EQ(seen, std::vector<std::string>{"7x"});
}

// [check.F85]
TEST(Timer, StartNowCallsTheCallbackSynchronously) {
    int calls = 0;
    kaa::Timer t([&] { ++calls; });
    t.start(1h, /*now=*/true);
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(t.active());
    t.stop();
}

// [check.F85]
TEST(Timer, StartNowReturningFalseLeavesItStopped) {
    int calls = 0;
    kaa::Timer t([&] {
        ++calls;
        return false;
    });
    t.start(0ns, /*now=*/true);
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(t.active());
}

// [check.F85]
TEST(Timer, RestartingAnActiveTimerUsesTheNewInterval) {
    int calls = 0;
    kaa::Timer t([&] {
        ++calls;
        return false;
    });
    t.start(1h);
    t.start(20ms);
    EXPECT_EQ(t.interval(), std::chrono::nanoseconds(20ms));
    const auto t0 = Clock::now();
    kaa::main::loop([&] { return calls == 0; }, 10s);
    const auto elapsed = Clock::now() - t0;
    EXPECT_EQ(calls, 1);
    EXPECT_GE(elapsed, 20ms);
    EXPECT_LT(elapsed, 10s);  // the old interval (1 h) would have hit the loop's timeout
}

// [timer.timer.1]: a started timer is kept alive by the loop
TEST(Timer, StartedTemporaryStillFires) {
    Ticker ticker;
    int calls = 0;
    kaa::OneShotTimer([&] { ++calls; }).start(0ns);
    steps(3);
    EXPECT_EQ(calls, 1);
}

// [timer.timer.4]: missed periods are skipped, not replayed
TEST(Timer, MissedPeriodsAreSkipped) {
    int calls = 0;
    kaa::Timer t([&] { ++calls; });
    t.start(10ms);
    // Not synchronisation: lets five periods pass without running the loop.
    std::this_thread::sleep_for(55ms);
    kaa::main::step();  // due: fires once, not five times
    EXPECT_EQ(calls, 1);
    t.stop();
}

// [timer.timer.5]: an exception ends the timer (the loop reports it)
TEST(Timer, ExceptionFromCallbackStopsTheTimer) {
    kaa::Timer t([]() -> bool { throw std::runtime_error("boom"); });
    t.start(0ns);
    EXPECT_THROW(kaa::main::step(), std::runtime_error);
    EXPECT_FALSE(t.active());
}

// ---------------------------------------------------------------- OneShotTimer

// [check.F86]
TEST(OneShotTimer, FiresExactlyOnce) {
    Ticker ticker;
    int calls = 0;
    kaa::OneShotTimer t([&] { ++calls; });
    t.start(0ns);
    EXPECT_TRUE(t.active());
    steps(5);
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(t.active());
}

// [check.F86]
TEST(OneShotTimer, RestartInsideItsCallbackFiresAgain) {
    Ticker ticker;
    int calls = 0;
    kaa::OneShotTimer* self = nullptr;
    kaa::OneShotTimer t([&] {
        EXPECT_FALSE(self->active());  // unregistered before the callback
        if (++calls < 3) self->start(0ns);
    });
    self = &t;
    t.start(0ns);
    steps(8);
    EXPECT_EQ(calls, 3);
    EXPECT_FALSE(t.active());
}

// [timer.oneshot.2] gotcha: re-arming inside the callback and returning false cancels the restart
TEST(OneShotTimer, RestartThenReturningFalseCancelsTheRestart) {
    Ticker ticker;
    int calls = 0;
    kaa::OneShotTimer* self = nullptr;
    kaa::OneShotTimer t([&] {
        ++calls;
        self->start(0ns);
        return false;
    });
    self = &t;
    t.start(0ns);
    steps(4);
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(t.active());
}

// ---------------------------------------------------------------- WeakTimer

// [check.F87]
TEST(WeakTimer, DeadOwnerNeverFiresAndBecomesInactive) {
    Ticker ticker;
    auto owner = std::make_shared<Owner>();
    int calls = 0;
    kaa::WeakTimer t(std::weak_ptr<Owner>(owner), [&] { ++calls; });
    t.start(0ns);
    EXPECT_TRUE(t.active());
    owner.reset();
    EXPECT_FALSE(t.active());
    steps(3);
    EXPECT_EQ(calls, 0);
    EXPECT_FALSE(t.active());
}

// [check.F87]
TEST(WeakTimer, CallsMemberFunctionWhileOwnerLivesThenStops) {
    Ticker ticker;
    auto owner = std::make_shared<Owner>();
    kaa::WeakTimer t(std::weak_ptr<Owner>(owner), &Owner::tick);
    t.start(0ns);
    steps(2);
    EXPECT_EQ(owner->calls, 2);
    std::weak_ptr<Owner> weak = owner;
    owner.reset();
    steps(2);
    EXPECT_TRUE(weak.expired());
    EXPECT_FALSE(t.active());
}

// [check.F87]
TEST(WeakOneShotTimer, DeadOwnerNeverFires) {
    Ticker ticker;
    auto owner = std::make_shared<Owner>();
    int calls = 0;
    kaa::WeakOneShotTimer t(std::weak_ptr<Owner>(owner), [&] { ++calls; });
    t.start(0ns);
    owner.reset();
    steps(3);
    EXPECT_EQ(calls, 0);
    EXPECT_FALSE(t.active());
}

// ---------------------------------------------------------------- timed

// [check.F88]
TEST(Timed, CallingDoesNotCallTheFunctionButStartsATimer) {
    Ticker ticker;
    std::vector<int> seen;
    auto f = kaa::timed(0ns, [&](int x) {
        seen.push_back(x);
        return false;  // once per timer
    });
    EXPECT_TRUE(f(1));
    EXPECT_TRUE(f(2));  // many: an independent timer
    EXPECT_TRUE(seen.empty());
    steps(3);
    EXPECT_EQ(seen, (std::vector<int>{1, 2}));
}

// [check.F88]
TEST(Timed, OncePolicyIgnoresCallsWhileItsTimerIsActive) {
    Ticker ticker;
    std::vector<int> seen;
    auto f = kaa::timed(
        0ns,
        [&](int x) {
            seen.push_back(x);
            return seen.size() < 3;  // repeats twice, then stops
        },
        kaa::TimedPolicy::once);
    EXPECT_TRUE(f(1));
    EXPECT_FALSE(f(2));  // ignored: the first timer is active
    steps(5);
    EXPECT_EQ(seen, (std::vector<int>{1, 1, 1}));
    EXPECT_TRUE(f(3));  // the timer stopped: accepted again
    steps(1);
    EXPECT_EQ(seen.back(), 3);
}

// [check.F88]
TEST(Timed, RestartPolicyReplacesTheTimerAndItsArguments) {
    Ticker ticker;
    std::vector<int> seen;
    auto f = kaa::timed(
        0ns,
        [&](int x) {
            seen.push_back(x);
            return seen.size() < 4;
        },
        kaa::TimedPolicy::restart);
    EXPECT_TRUE(f(10));
    steps(2);
    EXPECT_TRUE(f(20));
    steps(3);
    // Replaced, not added: no 10 after the restart; the new timer stops itself at four values.
    EXPECT_EQ(seen, (std::vector<int>{10, 10, 20, 20}));
}

// [timer.timed.2] (`bla` prints only 'test2')
TEST(Timed, RestartPolicyBeforeTheFirstFiringKeepsOnlyTheLastCall) {
    Ticker ticker;
    std::vector<std::string> seen;
    auto f = kaa::timed(
        0ns, [&](const std::string& s) { seen.push_back(s); }, kaa::TimedPolicy::restart,
        kaa::TimedKind::oneshot);
    EXPECT_TRUE(f(std::string("test1")));
    EXPECT_TRUE(f(std::string("test2")));
    steps(3);
    EXPECT_EQ(seen, std::vector<std::string>{"test2"});
}

// ---------------------------------------------------------------- the timer phase

// [loop.phase.2]: a timer removed by an earlier callback of the same step is skipped
TEST(TimerPhase, TimerCancelledByAnEarlierCallbackOfTheBatchDoesNotFire) {
    Ticker ticker;
    int a_calls = 0;
    int b_calls = 0;
    kaa::OneShotTimer b([&] { ++b_calls; });
    kaa::OneShotTimer a([&] {
        ++a_calls;
        b.stop();
    });
    a.start(0ns);
    b.start(0ns);
    steps(3);
    EXPECT_EQ(a_calls, 1);
    EXPECT_EQ(b_calls, 0);
}

// [loop.phase.2]: a timer re-armed by a callback waits for the next iteration
TEST(TimerPhase, TimerRearmedByAnEarlierCallbackFiresOnceInALaterIteration) {
    int b_calls = 0;
    kaa::OneShotTimer b([&] { ++b_calls; });
    kaa::OneShotTimer a([&] { b.start(0ns); });
    a.start(0ns);
    b.start(0ns);
    kaa::main::step();
    EXPECT_EQ(b_calls, 0);  // armed first but moved behind: not in this batch any more
    kaa::main::step();
    EXPECT_EQ(b_calls, 1);
}

// [loop.phase.2]: due timers fire ordered by (deadline, arming order)
TEST(TimerPhase, DueTimersFireInDeadlineOrderThenArmingOrder) {
    std::vector<int> order;
    kaa::OneShotTimer t1([&] { order.push_back(1); });
    kaa::OneShotTimer t2([&] { order.push_back(2); });
    kaa::OneShotTimer t3([&] { order.push_back(3); });
    t1.start(3ms);
    t2.start(1ms);
    t3.start(1ms);
    kaa::main::loop([&] { return order.size() < 3; }, 10s);
    EXPECT_EQ(order, (std::vector<int>{2, 3, 1}));
}

// src/loop/loop.cpp: an exception leaves the rest of the batch for the next iteration
TEST(TimerPhase, ExceptionLeavesTheRestOfTheBatchForTheNextIteration) {
    kaa::test::ReportCapture capture;
    std::vector<int> order;
    kaa::OneShotTimer t1([&] { order.push_back(1); });
    kaa::OneShotTimer t2([&] {
        order.push_back(2);
        throw std::runtime_error("second");
    });
    kaa::OneShotTimer t3([&] { order.push_back(3); });
    t1.start(0ns);
    t2.start(0ns);
    t3.start(0ns);
    EXPECT_THROW(kaa::main::step(), std::runtime_error);
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
    EXPECT_TRUE(t3.active());
    kaa::main::step();
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(capture.count(), 0u);
}

// src/loop/loop.cpp: a nested loop inside a timer callback keeps the outer batch intact
TEST(TimerPhase, NestedLoopInsideACallbackDoesNotLoseOrRepeatTheBatch) {
    Ticker ticker;
    int b_calls = 0;
    int nested_steps = 0;
    kaa::OneShotTimer b([&] { ++b_calls; });
    kaa::OneShotTimer a([&] { kaa::main::loop([&] { return ++nested_steps <= 3; }); });
    a.start(0ns);
    b.start(0ns);
    kaa::main::step();
    steps(3);
    EXPECT_EQ(b_calls, 1);
    EXPECT_FALSE(b.active());
}

// Stress: a million pending timers fire once each, in deadline order
TEST(TimerPhase, AMillionOneShotTimersFireOnceInDeadlineOrder) {
    const int n = kManyTimers;
    std::vector<kaa::detail::Clock::time_point> deadline(static_cast<std::size_t>(n));
    std::vector<std::uint8_t> fired(static_cast<std::size_t>(n), 0);
    int total = 0;
    bool ordered = true;
    kaa::detail::Clock::time_point last{};
    for (int i = 0; i < n; ++i) {
        // Deterministic delays spread over [0, 50 ms].
        const auto delay = std::chrono::microseconds((static_cast<std::int64_t>(i) * 7919) % 50001);
        kaa::OneShotTimer(
            [&](int k) {
                const auto d = deadline[static_cast<std::size_t>(k)];
                if (d < last) ordered = false;
                last = d;
                ++fired[static_cast<std::size_t>(k)];
                ++total;
            },
            i)
            .start(delay);
        // start() read the clock into loop_now(): this is exactly the deadline it armed.
        deadline[static_cast<std::size_t>(i)] = kaa::detail::loop_now() + delay;
    }
    kaa::main::loop([&] { return total < n; }, 120s);
    EXPECT_EQ(total, n);
    EXPECT_TRUE(ordered);
    int wrong = 0;
    for (auto f : fired) wrong += f != 1;
    EXPECT_EQ(wrong, 0);
}

// Stress: arming and cancelling a million timers (cancellation from the middle of the heap)
TEST(TimerPhase, AMillionTimersArmedThenCancelledNeverFire) {
    const int n = kManyTimers;
    int calls = 0;
    std::vector<kaa::OneShotTimer> timers;
    timers.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        timers.emplace_back([&] { ++calls; });
        timers.back().start(
            std::chrono::microseconds((static_cast<std::int64_t>(i) * 7919) % 50001));
    }
    // Cancel in a scattered (deterministic) order: a stride coprime with n.
    const std::int64_t stride = 7777;
    for (std::int64_t k = 0; k < n; ++k) timers[static_cast<std::size_t>((k * stride) % n)].stop();
    for (const auto& t : timers) ASSERT_FALSE(t.active());
    kaa::main::loop(true, 60ms);  // past every deadline
    EXPECT_EQ(calls, 0);
}

// ---------------------------------------------------------------- At timers

namespace {
std::chrono::system_clock::time_point local(int y, int mo, int d, int h, int mi, int s) {
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    tm.tm_isdst = -1;
    return std::chrono::system_clock::from_time_t(std::mktime(&tm));
}
}  // namespace

// [timer.at.1]
TEST(AtTimer, NextMatchIsTheFirstMatchingTimeLaterToday) {
    auto next = kaa::OneShotAtTimer::next_match(local(2023, 6, 15, 10, 20, 30), {10, 12}, {0, 30},
                                                {0});
    EXPECT_EQ(next, local(2023, 6, 15, 10, 30, 0));
}

// [timer.at.1]
TEST(AtTimer, NextMatchIsStrictlyAfterTheGivenTime) {
    auto at = local(2023, 6, 15, 10, 30, 0);
    EXPECT_EQ(kaa::OneShotAtTimer::next_match(at, {10, 12}, {0, 30}, {0}),
              local(2023, 6, 15, 12, 0, 0));
    // Fractions of a second count: 10:29:59.5 → 10:30:00, 10:30:00.5 → the next match.
    EXPECT_EQ(kaa::OneShotAtTimer::next_match(at - 500ms, {10, 12}, {0, 30}, {0}), at);
    EXPECT_EQ(kaa::OneShotAtTimer::next_match(at + 500ms, {10, 12}, {0, 30}, {0}),
              local(2023, 6, 15, 12, 0, 0));
}

// [timer.at.1]
TEST(AtTimer, NextMatchRollsOverToTheNextDay) {
    EXPECT_EQ(kaa::OneShotAtTimer::next_match(local(2023, 6, 15, 12, 30, 0), {10, 12}, {0, 30},
                                              {0}),
              local(2023, 6, 16, 10, 0, 0));
    EXPECT_EQ(kaa::OneShotAtTimer::next_match(local(2023, 6, 30, 23, 59, 59),
                                              kaa::OneShotAtTimer::all_hours(),
                                              kaa::OneShotAtTimer::all_minutes(), {0}),
              local(2023, 7, 1, 0, 0, 0));
    EXPECT_EQ(kaa::OneShotAtTimer::next_match(local(2023, 12, 31, 23, 0, 0), {0}, {0}, {0}),
              local(2024, 1, 1, 0, 0, 0));
}

// [timer.at.1]
TEST(AtTimer, StartSortsItsListsAndSchedulesTheNextMatch) {
    kaa::OneShotAtTimer t([] {});
    EXPECT_TRUE(t.hours().empty());
    EXPECT_FALSE(t.next().has_value());
    const auto before = std::chrono::system_clock::now();
    t.start({12, 3}, {30, 0}, {0});
    EXPECT_EQ(t.hours(), (std::vector<int>{3, 12}));
    EXPECT_EQ(t.minutes(), (std::vector<int>{0, 30}));
    ASSERT_TRUE(t.next().has_value());
    EXPECT_GT(*t.next(), before);
    EXPECT_EQ(*t.next(), kaa::OneShotAtTimer::next_match(*t.next() - 1s, {3, 12}, {0, 30}, {0}));
    EXPECT_TRUE(t.active());
    t.stop();
    EXPECT_FALSE(t.active());
    EXPECT_FALSE(t.next().has_value());
}

// [timer.at.1]
TEST(AtTimer, StartRejectsOutOfRangeValues) {
    kaa::AtTimer t([] {});
    EXPECT_THROW(t.start({24}), std::invalid_argument);
    EXPECT_THROW(t.start({1}, {60}), std::invalid_argument);
    EXPECT_THROW(t.start({1}, {1}, {-1}), std::invalid_argument);
    EXPECT_THROW(t.start({}, {1}), std::invalid_argument);
    EXPECT_FALSE(t.active());
}

// [timer.at.3] (waits for at most two wall-clock second boundaries)
TEST(AtTimer, StartedTemporaryReschedulesUntilTheCallbackReturnsFalse) {
    int calls = 0;
    kaa::AtTimer([&] { return ++calls < 2; })
        .start(kaa::OneShotAtTimer::all_hours(), kaa::OneShotAtTimer::all_minutes(),
               kaa::OneShotAtTimer::all_minutes());  // every second
    kaa::main::loop([&] { return calls < 2; }, 10s);
    EXPECT_EQ(calls, 2);
    Ticker ticker;
    steps(3);
    EXPECT_EQ(calls, 2);
}

// [timer.at.3] (waits for at most one wall-clock second boundary)
TEST(AtTimer, StopInsideTheCallbackPreventsTheReschedule) {
    int calls = 0;
    kaa::AtTimer* self = nullptr;
    kaa::AtTimer t([&] {
        ++calls;
        self->stop();
    });
    self = &t;
    t.start(kaa::OneShotAtTimer::all_hours(), kaa::OneShotAtTimer::all_minutes(),
            kaa::OneShotAtTimer::all_minutes());
    kaa::main::loop([&] { return calls < 1; }, 10s);
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(t.active());
    EXPECT_FALSE(t.next().has_value());
}
