// docs/semantics.md [check.invariants] and [ip.handled]: the live-frame count at loop shutdown,
// and the unhandled-exception handler seeing exactly the failures nobody consumed, once each.

#include "test_util.hpp"

#include <kaa/coroutine.hpp>
#include <kaa/delay.hpp>
#include <kaa/detail/access.hpp>
#include <kaa/detail/loop.hpp>
#include <kaa/inprogress.hpp>
#include <kaa/main.hpp>
#include <kaa/thread.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

kaa::Coroutine<> await_forever(kaa::InProgress<> ip) { co_await ip; }

kaa::Coroutine<> not_finished_forever() {
    for (;;) co_await kaa::NotFinished;
}

kaa::Coroutine<int> awaits_then_returns(kaa::InProgress<int> ip) { co_return co_await ip; }

}  // namespace

// [check.invariants] Frames suspended every way a frame suspends (awaiting, at NotFinished,
// nested, held by a handle or not) have all ended once the loop shut down.
TEST(FrameCount, EveryFrameEndsAtLoopShutdown) {
    const long before = kaa::detail::frames_parked();
    std::vector<kaa::Coroutine<>> held;
    kaa::InProgress<> never;
    for (int i = 0; i < 50; ++i) {
        held.push_back(await_forever(never));
        (void)await_forever(kaa::delay(1h));  // nothing holds it but the loop
        (void)not_finished_forever();
        kaa::InProgress<int> v;
        (void)awaits_then_returns(v);
        if (i % 2 == 0) v.finish(i);  // this one ends on its own
    }
    if (KAA_CHECKS_INVARIANTS) {
        EXPECT_GE(kaa::detail::frames_parked() - before, 150);
    }
    kaa::main::post([] { kaa::main::stop(); });
    kaa::main::run();  // the shutdown sequence checks the invariant itself
    EXPECT_EQ(kaa::detail::frames_parked(), 0);
    for (const auto& c : held) EXPECT_TRUE(c.failed());
}

// [check.invariants] A coroutine that stops the loop from inside its body is still running: it
// does not count as a frame left behind.
TEST(FrameCount, ARunningFrameThatStopsTheLoopIsNotLeftBehind) {
    auto c = []() -> kaa::Coroutine<int> {
        kaa::main::stop();  // no loop runs: the shutdown sequence runs inside this call
        co_return 1;
    }();
    EXPECT_EQ(c.result(), 1);
    EXPECT_EQ(kaa::detail::frames_parked(), 0);
}

// [check.invariants] A suspended frame that loop shutdown cannot reach (simulated: taken out of
// the registry of suspended frames) outlives it without ending: the invariant names it.
TEST(FrameCountDeathTest, AFrameOutlivingLoopShutdownIsAnInvariantViolation) {
    if (!KAA_CHECKS_INVARIANTS) GTEST_SKIP() << "invariants are compiled out (NDEBUG)";
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(
        {
            kaa::InProgress<> never;
            auto c = await_forever(never);
            kaa::detail::unregister_active(&kaa::detail::Access::coroutine_base(c));
            kaa::main::stop();
        },
        "kaa invariant: a coroutine frame outlived loop shutdown without ending");
}

// [ip.handled.1-4] The handler sees exactly the failures nobody consumed, once each: every way
// of consuming one (result(), co_await, an exception listener returning false, waitfor() and
// noabort() passing it on, abort) is not reported; every way of leaving one (dropping it, a
// listener returning true, a coroutine that let it through, a shield nobody awaited, a thread
// call nobody waited for) is, once.
TEST(UnhandledFailures, TheHandlerSeesExactlyTheUnconsumedOnesOnce) {
    kaa::test::ReportCapture cap;
    std::multiset<std::string> expected;
    constexpr int kRounds = 40;
    std::vector<kaa::InProgressBase> threads;
    for (int i = 0; i < kRounds; ++i) {
        const std::string what = "failure " + std::to_string(i);
        const auto boom = std::runtime_error(what);
        const std::string reported = "std::runtime_error: " + what;
        switch (i % 10) {
            case 0: {  // dropped: reported
                kaa::InProgress<int> p;
                p.throw_exception(boom);
                expected.insert(reported);
                break;
            }
            case 1: {  // result() rethrew it: consumed
                kaa::InProgress<int> p;
                p.throw_exception(boom);
                EXPECT_THROW((void)p.result(), std::runtime_error);
                break;
            }
            case 2: {  // a coroutine caught it at co_await: consumed
                kaa::InProgress<int> p;
                auto c = [](kaa::InProgress<int> p) -> kaa::Coroutine<int> {
                    try {
                        co_return co_await p;
                    } catch (const std::runtime_error&) {
                        co_return -1;
                    }
                }(p);
                p.throw_exception(boom);
                EXPECT_EQ(c.result(), -1);
                break;
            }
            case 3: {  // an exception listener returned false: consumed
                kaa::InProgress<int> p;
                p.connect_exception([](std::exception_ptr) { return false; });
                p.throw_exception(boom);
                break;
            }
            case 4: {  // an exception listener returned true: still reported
                kaa::InProgress<int> p;
                p.connect_exception([](std::exception_ptr) { return true; });
                p.throw_exception(boom);
                expected.insert(reported);
                break;
            }
            case 5: {  // a coroutine let it through: the coroutine's failure is reported once
                kaa::InProgress<int> p;
                (void)awaits_then_returns(p);
                p.throw_exception(boom);
                expected.insert(reported);
                break;
            }
            case 6: {  // waitfor() passed it on to an InProgress that is dropped: reported once
                kaa::InProgress<int> p;
                kaa::InProgress<int> q;
                q.waitfor(p);
                p.throw_exception(boom);
                expected.insert(reported);
                break;
            }
            case 7: {  // noabort() shield awaited and caught: consumed
                kaa::InProgress<int> p;
                auto c = [](kaa::InProgress<int> s) -> kaa::Coroutine<> {
                    try {
                        co_await s;
                    } catch (const std::runtime_error&) {
                    }
                }(p.noabort());
                p.throw_exception(boom);
                EXPECT_TRUE(c.finished() && !c.failed());
                break;
            }
            case 8: {  // aborted explicitly: never reported (an abort is not an error)
                kaa::InProgress<int> p;
                p.connect_abort([](const kaa::InProgressAborted&) {});
                try {
                    p.abort();
                } catch (const kaa::InProgressAborted&) {
                }
                break;
            }
            case 9: {  // a thread call nobody waits for: reported once, when its handle goes
                threads.push_back(
                    kaa::threaded([what]() -> int { throw std::runtime_error(what); })());
                expected.insert(reported);
                break;
            }
        }
    }
    // Wait for the thread calls without consuming their failures (wait() would), then drop
    // them.
    kaa::main::loop(
        [&] {
            return !std::all_of(threads.begin(), threads.end(),
                                [](const kaa::InProgressBase& t) { return t.finished(); });
        },
        10s);
    threads.clear();
    const std::vector<std::string> got = cap.messages();
    EXPECT_EQ(std::multiset<std::string>(got.begin(), got.end()), expected);
    // "Unhandled InProgress exception", and for a coroutine " in coroutine NAME (file:line)".
    for (const std::string& c : cap.contexts()) {
        EXPECT_EQ(c.rfind("Unhandled InProgress exception", 0), 0u) << c;
    }
    // Nothing more turns up later (the loop's next iterations, loop shutdown).
    kaa::main::post([] { kaa::main::stop(); });
    kaa::main::run();
    EXPECT_EQ(cap.count(), got.size());
}
