// Tests for kaa/main.hpp: loop(), run(), stop(), step(), the main signals, POSIX signals,
// cross-thread posting, and the re-entrancy of the loop's phases. docs/semantics.md
// [check.F89]–[check.F95], [loop], [loop.loop.2], [loop.posix.3].
//
// run() tests arm a safety timer that stops the loop after 10 s, so a regression fails instead
// of hanging; they assert that it did not fire.

#include <kaa/coroutine.hpp>
#include <kaa/errors.hpp>
#include <kaa/main.hpp>
#include <kaa/timer.hpp>

#include <kaa/detail/loop.hpp>

#include "test_util.hpp"

#include <gtest/gtest.h>

#include "loop_util.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

using kaa::test::Ticker;

// Stops a run() that a regression would leave running; fired() says whether it had to.
class Safety {
public:
    Safety()
        : timer_([this] {
              fired_ = true;
              kaa::main::stop();
          }) {
        timer_.start(10s);
    }
    ~Safety() { timer_.stop(); }
    Safety(const Safety&) = delete;
    Safety& operator=(const Safety&) = delete;
    bool fired() const { return fired_; }

private:
    bool fired_ = false;
    kaa::OneShotTimer timer_;
};

bool is_system_exit(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const kaa::SystemExit&) {
        return true;
    } catch (...) {
        return false;
    }
}

std::string message_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
        return "?";
    }
}

// Calls stop() from a one-shot timer `after` from now.
kaa::OneShotTimer stop_after(std::chrono::nanoseconds after) {
    kaa::OneShotTimer t([] { kaa::main::stop(); });
    t.start(after);
    return t;
}

}  // namespace

// ---------------------------------------------------------------- loop()

// [check.F89]
TEST(MainLoop, ReturnsAfterTheTimeoutWhileTheConditionHolds) {
    const auto t0 = Clock::now();
    int checks = 0;
    kaa::main::loop([&] { return ++checks > 0; }, 50ms);
    const auto elapsed = Clock::now() - t0;
    EXPECT_GE(elapsed, 50ms);
    EXPECT_LT(elapsed, 5s);
}

// [check.F89], [loop.loop.2]
TEST(MainLoop, FalseConditionValueReturnsAtOnce) {
    int iterations = 0;
    kaa::ScopedConnection c(kaa::main::signals().step.connect([&] { ++iterations; }));
    const auto t0 = Clock::now();
    kaa::main::loop(false, 10s);
    EXPECT_LT(Clock::now() - t0, 1s);
    EXPECT_EQ(iterations, 0);
}

// [check.F89], [loop.loop.2]
TEST(MainLoop, TrueConditionValueRunsUntilTheTimeout) {
    const auto t0 = Clock::now();
    kaa::main::loop(true, 30ms);
    const auto elapsed = Clock::now() - t0;
    EXPECT_GE(elapsed, 30ms);
    EXPECT_LT(elapsed, 5s);
}

// [loop.loop.1]
TEST(MainLoop, ChecksTheConditionBeforeEachIteration) {
    Ticker ticker;
    int iterations = 0;
    kaa::ScopedConnection c(kaa::main::signals().step.connect([&] { ++iterations; }));
    kaa::main::loop([&] { return iterations < 4; });
    EXPECT_EQ(iterations, 4);
    kaa::main::loop([] { return false; });
    EXPECT_EQ(iterations, 4);
}

// [loop.loop.1]
TEST(MainLoop, IsRunningInsideLoopAndNotOutside) {
    EXPECT_FALSE(kaa::main::is_running());
    bool inside = false;
    kaa::OneShotTimer t([&] { inside = kaa::main::is_running(); });
    t.start(0ns);
    kaa::main::loop([&] { return t.active(); }, 5s);
    EXPECT_TRUE(inside);
    EXPECT_FALSE(kaa::main::is_running());
    EXPECT_TRUE(kaa::main::is_mainthread());
}

// [loop.thread.1]
TEST(MainLoop, RunsFromAnotherThreadWhileItRunsAreRejected) {
    std::exception_ptr error;
    kaa::OneShotTimer t([&] {
        std::thread th([&] {
            try {
                kaa::main::loop([] { return false; });
            } catch (...) {
                error = std::current_exception();
            }
        });
        th.join();
    });
    t.start(0ns);
    kaa::main::loop([&] { return t.active(); }, 5s);
    ASSERT_TRUE(error);
    EXPECT_THROW(std::rethrow_exception(error), std::runtime_error);
}

// ---------------------------------------------------------------- exceptions

// [check.F90]
TEST(MainLoop, ExceptionFromATimerGoesToTheExceptionSignal) {
    std::vector<std::string> seen;
    kaa::ScopedConnection c(kaa::main::signals().exception.connect([&](std::exception_ptr e) {
        seen.push_back(message_of(e));
        return false;
    }));
    bool later = false;
    kaa::OneShotTimer bad([]() { throw std::runtime_error("timer failed"); });
    kaa::OneShotTimer good([&] { later = true; });
    bad.start(0ns);
    good.start(5ms);
    kaa::main::loop([&] { return !later; }, 5s);
    EXPECT_EQ(seen, std::vector<std::string>{"timer failed"});
    EXPECT_TRUE(later);  // the loop kept running
}

// [check.F90]
TEST(MainLoop, UnvetoedExceptionPropagatesOutOfLoop) {
    int listener_calls = 0;
    kaa::ScopedConnection c(kaa::main::signals().exception.connect(
        [&](std::exception_ptr) { ++listener_calls; }));  // void: does not veto
    kaa::OneShotTimer bad([]() { throw std::runtime_error("escapes"); });
    bad.start(0ns);
    EXPECT_THROW(kaa::main::loop(true, 5s), std::runtime_error);
    EXPECT_EQ(listener_calls, 1);
    EXPECT_FALSE(kaa::main::is_running());
}

// [check.F90]
TEST(MainRun, UnvetoedExceptionPropagatesOutOfRunAfterShutdown) {
    Safety safety;
    bool shutdown = false;
    kaa::main::signals().shutdown.connect([&] { shutdown = true; });
    kaa::OneShotTimer bad([]() { throw std::runtime_error("escapes run"); });
    bad.start(0ns);
    EXPECT_THROW(kaa::main::run(), std::runtime_error);
    EXPECT_TRUE(shutdown);
    EXPECT_TRUE(kaa::main::is_stopped());
    EXPECT_FALSE(kaa::main::is_running());
    EXPECT_FALSE(safety.fired());
}

// ---------------------------------------------------------------- run() and stop()

// [check.F91]
TEST(MainRun, StopInsideRunEndsItAndShutsDownInOrder) {
    Safety safety;
    std::vector<std::string> events;
    kaa::OneShotTimer stopper([&] {
        events.push_back(std::string("callback running=") + (kaa::main::is_running() ? "1" : "0"));
        kaa::main::stop();
        events.push_back("stop returned");
    });
    stopper.start(0ns);
    kaa::main::signals().shutdown.connect([&] {
        events.push_back(std::string("shutdown running=") + (kaa::main::is_running() ? "1" : "0") +
                         " shutting_down=" + (kaa::main::is_shutting_down() ? "1" : "0"));
    });
    kaa::ScopedConnection after(
        kaa::main::signals().shutdown_after.connect([&] { events.push_back("shutdown_after"); }));
    kaa::main::run();
    EXPECT_EQ(events,
              (std::vector<std::string>{"callback running=1", "stop returned",
                                        "shutdown running=0 shutting_down=1", "shutdown_after"}));
    EXPECT_FALSE(kaa::main::is_running());
    EXPECT_TRUE(kaa::main::is_stopped());
    EXPECT_TRUE(kaa::main::is_shutting_down());
    EXPECT_FALSE(safety.fired());
}

// [check.F92]
TEST(MainRun, ShutdownDisconnectsShutdownAndStepListenersAndRunWorksAgain) {
    Safety safety;
    int step_calls = 0;
    int shutdown_calls = 0;
    int after_calls = 0;
    kaa::Connection step = kaa::main::signals().step.connect([&] { ++step_calls; });
    kaa::Connection shutdown = kaa::main::signals().shutdown.connect([&] { ++shutdown_calls; });
    kaa::ScopedConnection after(
        kaa::main::signals().shutdown_after.connect([&] { ++after_calls; }));
    auto stopper = stop_after(0ns);
    kaa::main::run();
    EXPECT_GE(step_calls, 1);
    EXPECT_EQ(shutdown_calls, 1);
    EXPECT_EQ(after_calls, 1);
    EXPECT_FALSE(step.connected());
    EXPECT_FALSE(shutdown.connected());
    EXPECT_TRUE(after.connected());  // shutdown_after listeners stay

    const int steps_before = step_calls;
    bool ran_again = false;
    kaa::OneShotTimer again([&] {
        ran_again = kaa::main::is_running();
        kaa::main::stop();
    });
    again.start(0ns);
    kaa::main::run();
    EXPECT_TRUE(ran_again);
    EXPECT_EQ(step_calls, steps_before);  // disconnected
    EXPECT_EQ(shutdown_calls, 1);
    EXPECT_EQ(after_calls, 2);
    EXPECT_FALSE(safety.fired());
}

// [loop.run.1]
TEST(MainRun, RunWhileALoopRunsThrows) {
    std::exception_ptr error;
    kaa::OneShotTimer t([&] {
        try {
            kaa::main::run();
        } catch (...) {
            error = std::current_exception();
        }
    });
    t.start(0ns);
    kaa::main::loop([&] { return t.active(); }, 5s);
    ASSERT_TRUE(error);
    EXPECT_THROW(std::rethrow_exception(error), std::runtime_error);
}

// [loop.stop.1]: stop() from another thread is posted to the loop
TEST(MainRun, StopFromAnotherThreadEndsRun) {
    Safety safety;
    std::thread th;
    kaa::OneShotTimer start_thread([&] { th = std::thread([] { kaa::main::stop(); }); });
    start_thread.start(0ns);
    kaa::main::run();
    th.join();
    EXPECT_TRUE(kaa::main::is_stopped());
    EXPECT_FALSE(safety.fired());
}

// src/main.cpp: a loop nested in run() unwinds with SystemExit, and run() returns normally
TEST(MainRun, StopInsideANestedLoopUnwindsToRun) {
    Safety safety;
    bool nested_threw = false;
    std::vector<bool> seen_system_exit;
    kaa::ScopedConnection c(kaa::main::signals().exception.connect(
        [&](std::exception_ptr e) { seen_system_exit.push_back(is_system_exit(e)); }));
    kaa::OneShotTimer outer([&] {
        kaa::main::stop();
        try {
            kaa::main::loop(true);  // would never end by itself
        } catch (const kaa::SystemExit&) {
            nested_threw = true;
            throw;
        }
    });
    outer.start(0ns);
    kaa::main::run();
    EXPECT_TRUE(nested_threw);
    EXPECT_EQ(seen_system_exit, std::vector<bool>{true});
    EXPECT_TRUE(kaa::main::is_stopped());
    EXPECT_FALSE(safety.fired());
}

// src/main.cpp: a listener returning false for the stop's SystemExit cancels the stop
TEST(MainRun, VetoingTheStopSystemExitKeepsRunRunning) {
    Safety safety;
    int vetoes = 0;
    kaa::ScopedConnection c(kaa::main::signals().exception.connect([&](std::exception_ptr e) {
        if (is_system_exit(e) && vetoes == 0) {
            ++vetoes;
            return false;
        }
        return true;
    }));
    bool later = false;
    kaa::OneShotTimer first([] {
        kaa::main::stop();
        kaa::main::loop(true);  // throws SystemExit, vetoed at run()'s level
    });
    kaa::OneShotTimer second([&] {
        later = true;
        kaa::main::stop();
    });
    first.start(0ns);
    second.start(20ms);
    kaa::main::run();
    EXPECT_EQ(vetoes, 1);
    EXPECT_TRUE(later);
    EXPECT_FALSE(safety.fired());
}

// src/main.cpp: stop() during a plain loop() ends it with SystemExit, and is not left pending
TEST(MainLoop, StopInsideAPlainLoopThrowsSystemExitAndIsNotLeftPending) {
    auto stopper = stop_after(0ns);
    EXPECT_THROW(kaa::main::loop(true, 5s), kaa::SystemExit);
    // A later loop runs normally (the stop was consumed).
    Ticker ticker;
    int iterations = 0;
    kaa::ScopedConnection c(kaa::main::signals().step.connect([&] { ++iterations; }));
    kaa::main::loop([&] { return iterations < 3; }, 5s);
    EXPECT_EQ(iterations, 3);
}

// [loop.stop.3]: _stop() is guarded: once shut down, stop() without a loop does nothing until run()
TEST(MainRun, StopAfterTheShutdownDoesNothing) {
    Safety safety;
    auto stopper = stop_after(0ns);
    kaa::main::run();
    int shutdown_calls = 0;
    kaa::main::signals().shutdown.connect([&] { ++shutdown_calls; });
    kaa::main::stop();
    EXPECT_EQ(shutdown_calls, 0);
    EXPECT_TRUE(kaa::main::is_shutting_down());
    kaa::main::signals().shutdown.disconnect_all();
    EXPECT_FALSE(safety.fired());
}

// ---------------------------------------------------------------- POSIX signals

// [check.F93]
TEST(MainRun, SigtermEndsRunWithinOneIteration) {
    struct sigaction before {};
    ::sigaction(SIGTERM, nullptr, &before);
    Safety safety;
    int steps_after_signal = -1;
    std::vector<bool> seen_system_exit;
    kaa::ScopedConnection c(kaa::main::signals().exception.connect(
        [&](std::exception_ptr e) { seen_system_exit.push_back(is_system_exit(e)); }));
    kaa::main::signals().step.connect([&] {
        if (steps_after_signal >= 0) ++steps_after_signal;
    });
    kaa::OneShotTimer killer([&] {
        steps_after_signal = 0;
        ::raise(SIGTERM);
    });
    killer.start(0ns);
    kaa::main::run();  // returns normally
    EXPECT_GE(steps_after_signal, 0);
    EXPECT_LE(steps_after_signal, 1);
    EXPECT_EQ(seen_system_exit, std::vector<bool>{true});
    EXPECT_TRUE(kaa::main::is_stopped());
    EXPECT_FALSE(safety.fired());
    // The previous disposition is back.
    struct sigaction after {};
    ::sigaction(SIGTERM, nullptr, &after);
    EXPECT_EQ(after.sa_handler, before.sa_handler);
}

// [check.F93]
TEST(MainRun, SigtermSentWithKillEndsRun) {
    Safety safety;
    kaa::OneShotTimer killer([] { ::kill(::getpid(), SIGTERM); });
    killer.start(0ns);
    kaa::main::run();
    EXPECT_TRUE(kaa::main::is_stopped());
    EXPECT_FALSE(safety.fired());
}

// [check.F93]
TEST(MainRun, SigintWithTheDefaultHandlerEndsRun) {
    struct sigaction before {};
    ::sigaction(SIGINT, nullptr, &before);
    if (before.sa_handler != SIG_DFL) GTEST_SKIP() << "SIGINT has a handler: kaa leaves it alone";
    Safety safety;
    kaa::OneShotTimer killer([] { ::raise(SIGINT); });
    killer.start(0ns);
    kaa::main::run();
    EXPECT_TRUE(kaa::main::is_stopped());
    EXPECT_FALSE(safety.fired());
    struct sigaction after {};
    ::sigaction(SIGINT, nullptr, &after);
    EXPECT_EQ(after.sa_handler, SIG_DFL);  // restored
}

// [loop.posix.2]: the exception signal may veto the SystemExit of a POSIX signal
TEST(MainRun, SigtermCanBeVetoedByAnExceptionListener) {
    Safety safety;
    int vetoed = 0;
    kaa::ScopedConnection c(kaa::main::signals().exception.connect([&](std::exception_ptr e) {
        if (is_system_exit(e)) ++vetoed;
        return false;
    }));
    bool later = false;
    kaa::OneShotTimer killer([] { ::raise(SIGTERM); });
    kaa::OneShotTimer second([&] {
        later = true;
        kaa::main::stop();
    });
    killer.start(0ns);
    second.start(20ms);
    kaa::main::run();
    EXPECT_EQ(vetoed, 1);
    EXPECT_TRUE(later);
    EXPECT_FALSE(safety.fired());
}

// [loop.posix.3]: the signal wakeup stays registered after the first signal
TEST(MainRun, ASecondRunStillHandlesSigterm) {
    for (int round = 0; round < 2; ++round) {
        Safety safety;
        kaa::OneShotTimer killer([] { ::raise(SIGTERM); });
        killer.start(0ns);
        kaa::main::run();
        EXPECT_FALSE(safety.fired()) << "round " << round;
    }
}

// ---------------------------------------------------------------- step()

// [check.F94]
TEST(MainStep, StepSignalIsEmittedAfterEveryIteration) {
    Ticker ticker;
    std::vector<std::string> events;
    kaa::ScopedConnection c(kaa::main::signals().step.connect([&] { events.push_back("step"); }));
    kaa::Timer t([&] { events.push_back("timer"); });
    t.start(0ns);
    kaa::main::step();
    kaa::main::step();
    kaa::main::step();
    EXPECT_EQ(events,
              (std::vector<std::string>{"timer", "step", "timer", "step", "timer", "step"}));
    events.clear();
    int n = 0;
    kaa::main::loop([&] { return ++n <= 4; });
    EXPECT_EQ(std::count(events.begin(), events.end(), "step"), 4);
    t.stop();
}

// [check.F95]
TEST(MainStep, IdleStepBlocksUntilAPostFromAnotherThreadWakesIt) {
    std::atomic<bool> ran{false};
    std::thread::id ran_on;
    const auto t0 = Clock::now();
    std::thread th([&] {
        // Not for synchronisation: gives step() time to fall asleep, so the post must wake it.
        std::this_thread::sleep_for(100ms);
        kaa::main::post([&] {
            ran_on = std::this_thread::get_id();
            ran = true;
        });
    });
    int steps = 0;
    while (!ran && steps < 20) {
        kaa::main::step();
        ++steps;
    }
    const auto elapsed = Clock::now() - t0;
    th.join();
    EXPECT_TRUE(ran);  // a step() that did not block would have run 20 times in no time
    EXPECT_EQ(ran_on, std::this_thread::get_id());
    EXPECT_LT(elapsed, 5s);  // woken, not the 30 s idle timeout
}

// [loop.step.1]: step() from another thread only wakes the loop
TEST(MainStep, StepFromAnotherThreadOnlyWakesTheLoop) {
    std::atomic<bool> done{false};
    kaa::main::post([] {});
    std::thread th([&] {
        kaa::main::step();  // must not run an iteration on this thread
        done = true;
    });
    th.join();
    EXPECT_TRUE(done);
    kaa::main::step();  // runs the posted no-op (due: posted work never waits)
}

// [loop.post.1]: posted work runs on the loop thread, in order
TEST(MainPost, PostedWorkRunsOnTheLoopThreadInOrder) {
    std::vector<int> order;
    std::atomic<int> count{0};
    std::thread th([&] {
        for (int i = 0; i < 100; ++i) {
            kaa::main::post([&order, &count, i] {
                order.push_back(i);
                ++count;
            });
        }
    });
    kaa::main::loop([&] { return count < 100; }, 10s);
    th.join();
    ASSERT_EQ(order.size(), 100u);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
}

// src/loop/loop.cpp: an exception in a posted task keeps the rest for the next iteration
TEST(MainPost, ExceptionInAPostedTaskKeepsTheRestQueuedInOrder) {
    std::vector<int> order;
    kaa::main::post([&] { order.push_back(1); });
    kaa::main::post([&] {
        order.push_back(2);
        throw std::runtime_error("posted");
    });
    kaa::main::post([&] { order.push_back(3); });
    EXPECT_THROW(kaa::main::step(), std::runtime_error);
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
    kaa::main::step();
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

// src/loop/loop.cpp: the posted queue survives a nested loop run from one of its tasks
TEST(MainPost, NestedLoopInsideAPostedTaskRunsTheRestOfTheBatchOnce) {
    Ticker ticker;
    std::vector<std::string> events;
    kaa::main::post([&] {
        events.push_back("a");
        kaa::main::post([&] { events.push_back("c"); });  // run by the nested loop
        int n = 0;
        kaa::main::loop([&] { return ++n <= 2; });
        events.push_back("a done");
    });
    kaa::main::post([&] { events.push_back("b"); });
    kaa::main::step();
    kaa::main::step();
    EXPECT_EQ(events, (std::vector<std::string>{"a", "c", "a done", "b"}));
}

// src/loop/loop.cpp: the ready queue survives a nested loop run from one of its tasks
TEST(MainReady, NestedLoopInsideAReadyTaskRunsTheRestOfTheBatchOnce) {
    Ticker ticker;
    std::vector<std::string> events;
    kaa::detail::schedule_ready([&] {
        events.push_back("a");
        // Queued while the outer batch runs: the nested loop's ready phase runs it.
        kaa::detail::schedule_ready([&] { events.push_back("c"); });
        int n = 0;
        kaa::main::loop([&] { return ++n <= 2; });
        events.push_back("a done");
    });
    kaa::detail::schedule_ready([&] { events.push_back("b"); });
    kaa::main::step();
    kaa::main::step();
    EXPECT_EQ(events, (std::vector<std::string>{"a", "c", "a done", "b"}));
}

// src/loop/loop.cpp: an exception in a ready task keeps the rest, ahead of newer tasks
TEST(MainReady, ExceptionInAReadyTaskKeepsTheRestAheadOfNewerOnes) {
    std::vector<int> order;
    kaa::detail::schedule_ready([&] {
        order.push_back(1);
        kaa::detail::schedule_ready([&] { order.push_back(4); });
        throw std::runtime_error("ready");
    });
    kaa::detail::schedule_ready([&] { order.push_back(2); });
    kaa::detail::schedule_ready([&] { order.push_back(3); });
    EXPECT_THROW(kaa::main::step(), std::runtime_error);
    EXPECT_EQ(order, std::vector<int>{1});
    kaa::main::step();
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
}

// ---------------------------------------------------------------- process exit

namespace {
/// Writes `text` to stderr when destroyed: the death tests' matcher sees it.
struct StderrOnDestroy {
    const char* text;
    ~StderrOnDestroy() { std::fputs(text, stderr); }
};
kaa::Coroutine<> suspended_with_marker(kaa::InProgress<> ip) {
    StderrOnDestroy marker{"suspended frame unwound\n"};
    co_await ip;
}
}  // namespace

// [loop.shutdown.3], [coro.life.3]: std::exit() called from a callback while run()'s loop is
// running still unwinds the suspended frames (their destructors run) and emits `exit`.
TEST(MainDeathTest, ExitFromACallbackOfTheRunningLoopUnwindsSuspendedFrames) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            static kaa::InProgress<> never;
            suspended_with_marker(never);
            kaa::main::signals().exit.connect([] { std::fputs("exit emitted\n", stderr); });
            kaa::OneShotTimer quit([] { std::exit(0); });
            quit.start(0s);
            kaa::main::run();
        },
        ::testing::ExitedWithCode(0), "suspended frame unwound\nexit emitted\n");
}

// [loop.shutdown.3]: the frame that calls std::exit() is running, not suspended: it is left
// as it is (its destructors do not run), while the other suspended frames are unwound.
TEST(MainDeathTest, ExitFromACoroutineBodyLeavesThatFrameAndUnwindsTheOthers) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            static kaa::InProgress<> never;
            static kaa::InProgress<> go;
            suspended_with_marker(never);
            [](kaa::InProgress<> ip) -> kaa::Coroutine<> {
                StderrOnDestroy marker{"running frame unwound\n"};
                co_await ip;
                std::fputs("calling exit\n", stderr);
                std::exit(0);
            }(go);
            kaa::OneShotTimer start([] { go.finish(); });
            start.start(0s);
            kaa::main::run();
        },
        ::testing::ExitedWithCode(0), "^calling exit\nsuspended frame unwound\n$");
}
