// Coroutine::abort() and Coroutine::throw_exception() (docs/semantics.md [coro.close.1],
// [coro.abort], [coro.abort.8], [coro.abort.9], [coro.policy.5]; [check.B20]–[check.B33]) and the
// abort semantics of the seed (coroutines.rst, "Aborting Coroutines").
//
// C++ forbids co_await inside a catch handler: the coroutines below record what they caught
// and await (if at all) after the handler.

#include <kaa/kaa.hpp>

#include "test_util.hpp"

#include <gtest/gtest.h>

#include "coroutine_util.hpp"

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

using kaa::test::Boom;
using kaa::test::Finally;
using kaa::test::Log;

/// What a coroutine saw when it caught an InProgressAborted.
struct Seen {
    bool caught = false;
    kaa::InProgressBase inprogress;
    kaa::InProgressBase origin;
    bool inprogress_finished = false;
};

/// Awaits `ip`; records the abort it catches, then returns normally.
kaa::Coroutine<> catch_abort(kaa::InProgress<> ip, Seen* seen) {
    try {
        co_await ip;
    } catch (const kaa::InProgressAborted& e) {
        seen->caught = true;
        seen->inprogress = e.inprogress();
        seen->origin = e.origin();
        seen->inprogress_finished = e.inprogress().valid() && e.inprogress().finished();
    }
}

/// Awaits `ip` without catching anything.
kaa::Coroutine<> just_await(kaa::InProgress<> ip) { co_await ip; }

/// An InProgress nothing but the awaiting coroutine listens to, which can be aborted.
kaa::InProgress<> abortable_ip() { return kaa::InProgress<>({.abortable = true}); }

}  // namespace

// [check.B20]
TEST(CoroutineAbort, AbortOnFinishedCoroutineThrowsRuntimeError) {
    auto c = []() -> kaa::Coroutine<int> { co_return 1; }();
    ASSERT_TRUE(c.finished());
    EXPECT_THROW(c.abort(), std::runtime_error);
    EXPECT_EQ(c.result(), 1);
}

// [check.B20]
TEST(CoroutineAbort, AbortOnUnabortableCoroutineThrowsRuntimeError) {
    kaa::InProgress<> ip;
    auto c = just_await(ip);
    c.set_abortable(false);
    EXPECT_THROW(c.abort(), std::runtime_error);
    EXPECT_FALSE(c.finished());  // untouched
    ip.finish();
    EXPECT_TRUE(c.finished());
    EXPECT_FALSE(c.failed());
}

// [check.B21]
TEST(CoroutineAbort, AbortThrowsAtAwaitPointWithOriginAndInprogress) {
    Seen seen;
    auto ip = abortable_ip();
    auto c = catch_abort(ip, &seen);
    c.abort();
    EXPECT_TRUE(seen.caught);
    EXPECT_EQ(seen.origin, c);
    EXPECT_EQ(seen.inprogress, ip);
}

// [check.B22]
TEST(CoroutineAbort, AbortAtNotFinishedHasEmptyInprogress) {
    Seen seen;
    auto c = [](Seen* seen) -> kaa::Coroutine<> {
        try {
            co_await kaa::NotFinished;
        } catch (const kaa::InProgressAborted& e) {
            seen->caught = true;
            seen->inprogress = e.inprogress();
            seen->origin = e.origin();
        }
    }(&seen);
    c.abort();
    EXPECT_TRUE(seen.caught);
    EXPECT_FALSE(seen.inprogress.valid());
    EXPECT_EQ(seen.origin, c);
    kaa::main::step();  // the queued NotFinished resumption is dropped, not run
    EXPECT_TRUE(c.failed());
}

// [check.B22]
TEST(CoroutineAbort, AbortAtNotFinishedWithIntervalCancelsTimer) {
    bool resumed = false;
    auto c = kaa::coroutine({.interval = 20ms}, [](bool* resumed) -> kaa::Coroutine<> {
        co_await kaa::NotFinished;
        *resumed = true;
    })(&resumed);
    EXPECT_THROW(c.abort(), kaa::InProgressAborted);
    kaa::main::loop(true, 60ms);
    EXPECT_FALSE(resumed);
}

// [check.B23]
TEST(CoroutineAbort, UncaughtAbortIsRethrownToCaller) {
    Log log;
    auto ip = abortable_ip();
    auto c = [](Log* log, kaa::InProgress<> ip) -> kaa::Coroutine<> {
        Finally f{log, "cleanup"};
        co_await ip;
        log->push_back("not reached");
    }(&log, ip);
    try {
        c.abort();
        ADD_FAILURE() << "abort() did not throw";
    } catch (const kaa::InProgressAborted& e) {
        EXPECT_EQ(e.origin(), c);
        EXPECT_EQ(e.inprogress(), ip);
    }
    EXPECT_EQ(log, (Log{"cleanup"}));
    EXPECT_TRUE(c.finished());
    EXPECT_TRUE(c.failed());
}

// [check.B24]
TEST(CoroutineAbort, CaughtAbortThenReturnFinishesFailedWithAbort) {
    Seen seen;
    auto c = catch_abort(abortable_ip(), &seen);
    EXPECT_NO_THROW(c.abort());
    EXPECT_TRUE(c.finished());
    EXPECT_TRUE(c.failed());
    EXPECT_THROW(c.result(), kaa::InProgressAborted);
}

// [check.B25]
TEST(CoroutineAbort, ValueReturnedAfterCatchingAbortIsDiscarded) {
    auto c = [](kaa::InProgress<> ip) -> kaa::Coroutine<int> {
        try {
            co_await ip;
        } catch (const kaa::InProgressAborted&) {
            co_return 42;
        }
        co_return 1;
    }(abortable_ip());
    EXPECT_NO_THROW(c.abort());
    EXPECT_TRUE(c.failed());
    EXPECT_THROW(c.result(), kaa::InProgressAborted);
}

// [check.B26]
TEST(CoroutineAbort, AwaitingAgainAfterAbortMakesAbortThrowRuntimeError) {
    Log log;
    auto c = [](Log* log, kaa::InProgress<> ip) -> kaa::Coroutine<> {
        bool aborted = false;
        try {
            co_await ip;
        } catch (const kaa::InProgressAborted&) {
            aborted = true;
        }
        if (aborted) {
            log->push_back("awaiting again");
            co_await kaa::delay(1ms);  // suspending again after an abort: refused
            log->push_back("not reached");
        }
    }(&log, abortable_ip());
    std::string message;
    try {
        c.abort();
    } catch (const std::runtime_error& e) {
        message = e.what();
    }
    EXPECT_EQ(message,
              "kaa: co_await in an aborted coroutine: after an abort it may not suspend again "
              "(catching InProgressAborted does not undo the abort)");
    EXPECT_EQ(log, (Log{"awaiting again"}));
    EXPECT_TRUE(c.finished());
    EXPECT_TRUE(c.failed());
    EXPECT_THROW(c.result(), kaa::InProgressAborted);  // still aborted ([coro.abort.8])
}

// [check.B26]
TEST(CoroutineAbort, NotFinishedAfterAbortMakesAbortThrowRuntimeError) {
    auto c = [](kaa::InProgress<> ip) -> kaa::Coroutine<> {
        bool aborted = false;
        try {
            co_await ip;
        } catch (const kaa::InProgressAborted&) {
            aborted = true;
        }
        if (aborted) co_await kaa::NotFinished;
    }(abortable_ip());
    EXPECT_THROW(c.abort(), std::runtime_error);
    EXPECT_TRUE(c.failed());
}

// [check.B27]
TEST(CoroutineAbort, AbortCascadesToAbortableAwaitedWithNoOtherListener) {
    Seen seen;
    auto delay = kaa::delay(1h);
    auto c = catch_abort(delay, &seen);
    c.abort();
    EXPECT_TRUE(delay.finished());
    EXPECT_TRUE(delay.failed());
    EXPECT_TRUE(seen.inprogress_finished);  // aborted before the coroutine saw the exception
    EXPECT_EQ(seen.inprogress, delay);
    EXPECT_THROW(delay.result(), kaa::InProgressAborted);
}

// [check.B27]
TEST(CoroutineAbort, CascadedAbortKeepsOrigin) {
    auto ip = abortable_ip();
    kaa::InProgressBase origin_seen_by_ip;
    ip.connect_abort([&](const kaa::InProgressAborted& e) { origin_seen_by_ip = e.origin(); });
    Seen seen;
    auto c = catch_abort(ip, &seen);
    c.abort();
    EXPECT_EQ(origin_seen_by_ip, c);
    EXPECT_EQ(seen.origin, c);
}

// [check.B28]
TEST(CoroutineAbort, AwaitedWithAnotherListenerIsNotAborted) {
    Seen seen;
    auto ip = abortable_ip();
    bool other_called = false;
    ip.connect([&] { other_called = true; });
    auto c = catch_abort(ip, &seen);
    c.abort();
    EXPECT_TRUE(seen.caught);
    EXPECT_FALSE(ip.finished());
    EXPECT_FALSE(seen.inprogress_finished);
    ip.finish();
    EXPECT_TRUE(other_called);
}

// [check.B28]
TEST(CoroutineAbort, NoabortShieldsTheAwaitedInProgress) {
    Seen seen;
    auto delay = kaa::delay(10ms);
    auto c = catch_abort(delay.noabort(), &seen);
    c.abort();
    EXPECT_TRUE(seen.caught);
    EXPECT_FALSE(seen.inprogress_finished);  // the seed: "False will be false"
    EXPECT_NE(seen.inprogress, delay);       // it is the noabort wrapper
    EXPECT_FALSE(delay.finished());          // the delay lives on
    delay.wait(5s);
    EXPECT_FALSE(delay.failed());
}

// [check.B28]
TEST(CoroutineAbort, UnabortableAwaitedIsNotAborted) {
    Seen seen;
    kaa::InProgress<> ip;  // no abort listeners, not explicitly abortable
    auto c = catch_abort(ip, &seen);
    c.abort();
    EXPECT_TRUE(seen.caught);
    EXPECT_FALSE(ip.finished());
}

// [check.B29]
TEST(CoroutineAbort, AbortingOuterAbortsAwaitedInnerCoroutineWithSameOrigin) {
    Seen inner_seen, outer_seen;
    auto delay = kaa::delay(1h);
    auto inner = [](kaa::InProgress<> ip, Seen* seen) -> kaa::Coroutine<> {
        try {
            co_await ip;
        } catch (const kaa::InProgressAborted& e) {
            seen->caught = true;
            seen->inprogress = e.inprogress();
            seen->origin = e.origin();
            throw;  // inner does not recover
        }
    }(delay, &inner_seen);
    auto outer = catch_abort(inner, &outer_seen);
    outer.abort();
    EXPECT_TRUE(inner_seen.caught);
    EXPECT_TRUE(outer_seen.caught);
    EXPECT_EQ(inner_seen.origin, outer);
    EXPECT_EQ(outer_seen.origin, outer);
    EXPECT_EQ(inner_seen.inprogress, delay);
    EXPECT_EQ(outer_seen.inprogress, inner);
    EXPECT_TRUE(delay.failed());
    EXPECT_TRUE(inner.failed());
    EXPECT_TRUE(outer.failed());
}

// [check.B29]
TEST(CoroutineAbort, NoabortOnInnerCoroutinePreventsItsAbort) {
    Seen outer_seen;
    kaa::InProgress<> ip;
    auto inner = just_await(ip);
    auto outer = catch_abort(inner.noabort(), &outer_seen);
    outer.abort();
    EXPECT_TRUE(outer_seen.caught);
    EXPECT_FALSE(inner.finished());
    ip.finish();
    EXPECT_TRUE(inner.finished());
    EXPECT_FALSE(inner.failed());
}

// [check.B30] ([coro.abort.10])
TEST(CoroutineAbort, DirectAbortOfChildResumesParentWithChildAsInprogressAndOrigin) {
    Seen parent_seen;
    auto child = just_await(kaa::delay(1h));
    auto parent = [](kaa::Coroutine<> child, Seen* seen) -> kaa::Coroutine<std::string> {
        try {
            co_await child;
        } catch (const kaa::InProgressAborted& e) {
            seen->caught = true;
            seen->inprogress = e.inprogress();
            seen->origin = e.origin();
        }
        co_await kaa::InProgress<int>().finish(1);  // may await again: it was not aborted
        co_return "recovered";
    }(child, &parent_seen);
    EXPECT_THROW(child.abort(), kaa::InProgressAborted);  // child did not catch
    EXPECT_TRUE(parent_seen.caught);
    EXPECT_EQ(parent_seen.inprogress, child);
    EXPECT_EQ(parent_seen.origin, child);
    ASSERT_TRUE(parent.finished());
    EXPECT_EQ(parent.result(), "recovered");
}

// [check.B30]
TEST(CoroutineAbort, ParentFailingWithChildAbortIsNotReported) {
    kaa::test::ReportCapture reports;
    {
        auto child = just_await(kaa::delay(1h));
        auto parent = just_await(child);
        EXPECT_THROW(child.abort(), kaa::InProgressAborted);
        EXPECT_TRUE(parent.failed());  // with exactly InProgressAborted: kaa does not log it
    }
    EXPECT_EQ(reports.count(), 0u);
}

// [check.B31] ([coro.abort.9])
TEST(CoroutineAbort, AbortListenersAreCalledExactlyOnce) {
    Seen seen;
    auto ip = abortable_ip();
    auto c = catch_abort(ip, &seen);
    int calls = 0;
    kaa::InProgressBase listener_inprogress;
    c.connect_abort([&](const kaa::InProgressAborted& e) {
        ++calls;
        listener_inprogress = e.inprogress();
    });
    bool exception_listener = false;
    c.connect_exception([&](std::exception_ptr) {
        exception_listener = true;
        return false;
    });
    c.abort();
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(exception_listener);
    // kaa: the listeners receive the exception thrown into the coroutine (inprogress = ip).
    EXPECT_EQ(listener_inprogress, ip);
}

// [check.B32] ([coro.abort.8])
TEST(CoroutineAbort, AbortedCoroutineIsAlwaysFinishedAndFailedAndNotReported) {
    kaa::test::ReportCapture reports;
    {
        Seen seen;
        auto c = catch_abort(abortable_ip(), &seen);  // no exception listener at all
        c.abort();
        EXPECT_TRUE(c.finished());
        EXPECT_TRUE(c.failed());
        EXPECT_FALSE(c.active());
        EXPECT_THROW(c.abort(), std::runtime_error);  // second abort: already finished
    }
    {
        auto c = just_await(abortable_ip());
        EXPECT_THROW(c.abort(), kaa::InProgressAborted);
        EXPECT_TRUE(c.finished());
        EXPECT_TRUE(c.failed());
    }
    EXPECT_EQ(reports.count(), 0u);
}

// [check.B33]
TEST(CoroutineAbort, ThrowExceptionClosesRunningCoroutineAndFailsWithIt) {
    Log log;
    kaa::InProgress<> ip;
    auto c = [](Log* log, kaa::InProgress<> ip) -> kaa::Coroutine<int> {
        Finally f{log, "cleanup"};
        co_await ip;
        log->push_back("not reached");
        co_return 1;
    }(&log, ip);
    bool got_boom = false;
    c.connect_exception([&](std::exception_ptr e) {
        try {
            std::rethrow_exception(e);
        } catch (const Boom&) {
            got_boom = true;
            log.push_back("exception listener");
        } catch (...) {
        }
        return false;
    });
    c.throw_exception(Boom());
    EXPECT_EQ(log, (Log{"cleanup", "exception listener"}));
    EXPECT_TRUE(got_boom);
    EXPECT_TRUE(c.failed());
    EXPECT_FALSE(c.active());
    EXPECT_THROW(c.result(), Boom);
    EXPECT_FALSE(ip.finished());  // the awaited InProgress is left alone
    ip.finish();                  // and finishing it later does not resume anything
    EXPECT_THROW(c.throw_exception(Boom()), std::runtime_error);  // already finished
}

// [check.B33]
TEST(CoroutineAbort, ThrowExceptionThroughInProgressHandleClosesCoroutine) {
    Log log;
    auto c = [](Log* log) -> kaa::Coroutine<> {
        Finally f{log, "cleanup"};
        co_await kaa::NotFinished;
        log->push_back("not reached");
    }(&log);
    kaa::InProgressBase handle = c;
    handle.throw_exception(Boom());
    kaa::main::step();
    EXPECT_EQ(log, (Log{"cleanup"}));
    EXPECT_THROW(c.result(), Boom);
}

// docs/semantics.md [coro.close.1], [ip.abort.2]: a null exception_ptr is refused at the call
// (std::invalid_argument), by throw_exception() and by abort() through a plain handle; the
// coroutine is untouched and can still be closed.
TEST(CoroutineAbort, NullExceptionPtrIsRefusedAtTheCall) {
    Log log;
    auto c = [](Log* log) -> kaa::Coroutine<> {
        Finally f{log, "cleanup"};
        co_await kaa::NotFinished;
        log->push_back("resumed");
        co_await kaa::NotFinished;
    }(&log);
    try {
        c.throw_exception(std::exception_ptr{});
        ADD_FAILURE() << "throw_exception(nullptr) did not throw";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "kaa: throw_exception() with a null exception_ptr");
    }
    kaa::InProgressBase handle = c;
    try {
        handle.abort(std::exception_ptr{});
        ADD_FAILURE() << "abort(nullptr) did not throw";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "kaa: abort() with a null exception_ptr");
    }
    EXPECT_TRUE(c.active());
    kaa::main::step();  // still scheduled as before
    EXPECT_EQ(log, (Log{"resumed"}));
    c.throw_exception(Boom());
    EXPECT_EQ(log, (Log{"resumed", "cleanup"}));
    EXPECT_THROW(c.result(), Boom);
}

TEST(CoroutineAbort, AbortThroughTypeErasedHandleIsCoroutineAbort) {
    Seen seen;
    auto ip = abortable_ip();
    auto c = catch_abort(ip, &seen);
    kaa::InProgressBase handle = c;
    handle.abort();
    EXPECT_TRUE(seen.caught);
    EXPECT_EQ(seen.origin, c);
    EXPECT_TRUE(ip.finished());
    EXPECT_TRUE(c.failed());
}

TEST(CoroutineAbort, AbortWithCustomExceptionKeepsTypeAndGetsOrigin) {
    bool timeout_seen = false;
    kaa::InProgressBase origin;
    auto c = [](bool* seen, kaa::InProgressBase* origin) -> kaa::Coroutine<> {
        try {
            co_await kaa::NotFinished;
        } catch (const kaa::TimeoutException& e) {
            *seen = true;
            *origin = e.origin();
        }
    }(&timeout_seen, &origin);
    c.abort(kaa::TimeoutException("too slow"));
    EXPECT_TRUE(timeout_seen);
    EXPECT_EQ(origin, c);
    EXPECT_THROW(c.result(), kaa::TimeoutException);
}

TEST(CoroutineAbort, AbortedCoroutineDoesNotResumeWhenAwaitedFinishesLater) {
    Log log;
    kaa::InProgress<> ip;
    ip.connect([] {});  // another listener: no cascade
    auto c = [](Log* log, kaa::InProgress<> ip) -> kaa::Coroutine<> {
        try {
            co_await ip;
        } catch (const kaa::InProgressAborted&) {
            log->push_back("aborted");
        }
        log->push_back("end");
    }(&log, ip);
    c.abort();
    ip.finish();
    EXPECT_EQ(log, (Log{"aborted", "end"}));
}

TEST(CoroutineAbort, SelfAbortWhileRunningIsRefused) {
    std::optional<kaa::Coroutine<>> self;
    bool refused = false;
    kaa::InProgress<> go;
    self = [](std::optional<kaa::Coroutine<>>* self, bool* refused,
              kaa::InProgress<> go) -> kaa::Coroutine<> {
        co_await go;
        try {
            (*self)->abort();
        } catch (const std::runtime_error&) {
            *refused = true;
        }
    }(&self, &refused, go);
    go.finish();
    EXPECT_TRUE(refused);
    EXPECT_TRUE(self->finished());
    EXPECT_FALSE(self->failed());
}

namespace {
/// A SYNCHRONIZED coroutine that logs "<name> start", waits for `gate`, logs "<name> end".
auto gated_synchronized() {
    return kaa::coroutine({.policy = kaa::POLICY_SYNCHRONIZED},
                          [](Log* log, std::string name,
                             kaa::InProgress<> gate) -> kaa::Coroutine<> {
                              log->push_back(name + " start");
                              co_await gate;
                              log->push_back(name + " end");
                          });
}
}  // namespace

// [coro.policy.5]: aborting a queued POLICY_SYNCHRONIZED call removes it from the queue; its
// successor then waits for the aborted call's predecessor (kaa let it run concurrently).
TEST(CoroutineAbort, AbortingQueuedSynchronizedCallSplicesTheQueue) {
    Log log;
    auto sync = gated_synchronized();
    kaa::InProgress<> g1, g2, g3;
    auto c1 = sync(&log, "1", g1);
    auto c2 = sync(&log, "2", g2);
    auto c3 = sync(&log, "3", g3);
    EXPECT_EQ(log, (Log{"1 start"}));
    // The queued body never started: the abort is thrown at its start and not caught.
    try {
        c2.abort();
        ADD_FAILURE() << "abort() of a queued call did not throw";
    } catch (const kaa::InProgressAborted& e) {
        EXPECT_FALSE(e.inprogress().valid());
        EXPECT_EQ(e.origin(), c2);
    }
    EXPECT_TRUE(c2.failed());
    EXPECT_EQ(log, (Log{"1 start"}));  // 3 still waits for 1
    g1.finish();
    EXPECT_EQ(log, (Log{"1 start", "1 end", "3 start"}));
    g3.finish();
    EXPECT_EQ(log, (Log{"1 start", "1 end", "3 start", "3 end"}));
    EXPECT_FALSE(g2.finished());
}

// [coro.policy.5]: aborting the running head of a SYNCHRONIZED queue starts the next call.
TEST(CoroutineAbort, AbortingRunningSynchronizedCallStartsNext) {
    Log log;
    auto sync = gated_synchronized();
    kaa::InProgress<> g1({.abortable = true}), g2;
    auto c1 = sync(&log, "1", g1);
    auto c2 = sync(&log, "2", g2);
    EXPECT_THROW(c1.abort(), kaa::InProgressAborted);
    EXPECT_EQ(log, (Log{"1 start", "2 start"}));
    g2.finish();
    EXPECT_TRUE(c2.finished());
}

// A listener of the awaited InProgress that aborts the coroutine again while the cascade runs
// is refused; the coroutine is aborted once.
TEST(CoroutineAbort, ReentrantAbortDuringCascadeIsRefused) {
    Seen seen;
    auto ip = abortable_ip();
    std::optional<kaa::Coroutine<>> c;
    bool refused = false;
    ip.connect_abort([&](const kaa::InProgressAborted&) {
        try {
            c->abort();
        } catch (const std::runtime_error&) {
            refused = true;
        }
    });
    c = catch_abort(ip, &seen);
    int abort_listener_calls = 0;
    c->connect_abort([&](const kaa::InProgressAborted&) { ++abort_listener_calls; });
    c->abort();
    EXPECT_TRUE(refused);
    EXPECT_TRUE(seen.caught);
    EXPECT_TRUE(ip.failed());
    EXPECT_TRUE(c->failed());
    EXPECT_EQ(abort_listener_calls, 1);
}

// ------------------------------------------------------------------ error messages

// The same wording as for a plain InProgress: the operation, then "coroutine already finished".
TEST(CoroutineAbort, OperationsOnAFinishedCoroutineSayAlreadyFinished) {
    auto c = []() -> kaa::Coroutine<int> { co_return 1; }();
    ASSERT_TRUE(c.finished());
    EXPECT_EQ(kaa::test::runtime_error_of([&] { c.abort(); }),
              "kaa: abort(): coroutine already finished");
    auto waiting = [](kaa::InProgress<> gate) -> kaa::Coroutine<> { co_await gate; };
    kaa::InProgress<> gate;
    auto d = waiting(gate);
    gate.finish();
    ASSERT_TRUE(d.finished());
    EXPECT_EQ(kaa::test::runtime_error_of([&] { d.throw_exception(std::runtime_error("late")); }),
              "kaa: throw_exception(): coroutine already finished");
}

// A coroutine made unabortable says so when abort() is refused.
TEST(CoroutineAbort, AbortOfAnUnabortableCoroutineSaysWhy) {
    kaa::InProgress<> gate;
    auto c = [](kaa::InProgress<> gate) -> kaa::Coroutine<> { co_await gate; }(gate);
    c.set_abortable(false);
    EXPECT_EQ(kaa::test::runtime_error_of([&] { c.abort(); }),
              "kaa: abort(): coroutine cannot be aborted: it was made unabortable "
              "(set_abortable(false), InProgressOptions{.abortable = false} or noabort())");
    EXPECT_FALSE(c.finished());
    gate.finish();
    EXPECT_TRUE(c.finished());
}

// [coro.close.2]: finish(v) from outside closes a suspended coroutine like throw_exception():
// its cleanup runs at the suspension point, it succeeds with v, and nothing changes it later.
TEST(CoroutineAbort, FinishFromOutsideClosesTheCoroutineAndKeepsTheValue) {
    Log log;
    kaa::InProgress<> ip;
    auto c = [](Log* log, kaa::InProgress<> ip) -> kaa::Coroutine<int> {
        Finally f{log, "cleanup"};
        co_await ip;
        log->push_back("not reached");
        co_return 1;
    }(&log, ip);
    c.connect([&](int v) { log.push_back("result " + std::to_string(v)); });
    c.finish(5);
    EXPECT_EQ(log, (Log{"cleanup", "result 5"}));
    EXPECT_EQ(c.result(), 5);
    EXPECT_FALSE(c.active());
    EXPECT_FALSE(ip.finished());  // the awaited InProgress is left alone
    ip.finish();                  // and finishing it later does not resume anything
    EXPECT_EQ(log, (Log{"cleanup", "result 5"}));
    EXPECT_EQ(c.result(), 5);
    EXPECT_THROW(c.finish(6), std::runtime_error);  // already finished
}

// [coro.close.2]: a body that catches the close and returns its own value does not win.
TEST(CoroutineAbort, FinishFromOutsideWinsOverTheValueTheClosedBodyReturns) {
    kaa::InProgress<> ip;
    auto c = [](kaa::InProgress<> ip) -> kaa::Coroutine<int> {
        try {
            co_await ip;
        } catch (...) {
            co_return 1;
        }
        co_return 2;
    }(ip);
    c.finish(5);
    EXPECT_EQ(c.result(), 5);
    ip.finish();
    EXPECT_EQ(c.result(), 5);
}

// [coro.close.2]: finish(v) on a coroutine waiting at NotFinished through a plain handle.
TEST(CoroutineAbort, FinishThroughAnInProgressHandleClosesACoroutineAtNotFinished) {
    Log log;
    auto c = [](Log* log) -> kaa::Coroutine<int> {
        Finally f{log, "cleanup"};
        co_await kaa::NotFinished;
        log->push_back("not reached");
        co_return 1;
    }(&log);
    kaa::InProgress<int> handle = c;
    handle.finish(7);
    EXPECT_EQ(log, (Log{"cleanup"}));
    kaa::main::step();
    EXPECT_EQ(log, (Log{"cleanup"}));
    EXPECT_EQ(c.result(), 7);
}

// [coro.close.2] + [coro.policy.5]: finish(v) on a queued SYNCHRONIZED call takes it out of the
// queue and frees its frame; the next call waits for the running one, as after an abort.
TEST(CoroutineAbort, FinishOfAQueuedSynchronizedCallFreesItsFrameAndKeepsTheQueue) {
    Log log;
    auto sync = kaa::coroutine({.policy = kaa::POLICY_SYNCHRONIZED},
                               [](Log* log, std::string name, kaa::InProgress<> gate,
                                  std::shared_ptr<int> token) -> kaa::Coroutine<int> {
                                   log->push_back(name + " start");
                                   co_await gate;
                                   log->push_back(name + " end");
                                   co_return token ? *token : 0;
                               });
    kaa::InProgress<> g1, g2, g3;
    auto token = std::make_shared<int>(2);
    std::weak_ptr<int> weak = token;
    auto c1 = sync(&log, "1", g1, nullptr);
    std::optional<kaa::Coroutine<int>> c2 = sync(&log, "2", g2, std::move(token));
    auto c3 = sync(&log, "3", g3, nullptr);
    c2->finish(5);
    EXPECT_EQ(c2->result(), 5);
    c2.reset();
    EXPECT_TRUE(weak.expired());  // the queued frame is gone
    EXPECT_EQ(log, (Log{"1 start"}));
    g1.finish();
    EXPECT_EQ(log, (Log{"1 start", "1 end", "3 start"}));
    g3.finish();
    EXPECT_EQ(log, (Log{"1 start", "1 end", "3 start", "3 end"}));
    EXPECT_EQ(c3.result(), 0);
}

// [coro.abort.6]: aborted after what it awaited finished but before its interval resumption,
// the coroutine still sees that (finished) InProgress as the abort's inprogress().
TEST(CoroutineAbort, AbortBeforeTheIntervalResumptionNamesTheFinishedAwaitedInProgress) {
    Seen seen;
    auto ip = abortable_ip();
    auto c = kaa::coroutine({.interval = 1h}, &catch_abort)(ip, &seen);
    ip.finish();
    EXPECT_FALSE(seen.caught);  // the interval applies: not resumed yet
    c.abort();                  // caught by the body: abort() does not throw
    EXPECT_TRUE(seen.caught);
    EXPECT_EQ(seen.inprogress, ip);
    EXPECT_TRUE(seen.inprogress_finished);
    EXPECT_EQ(seen.origin, c);
    EXPECT_TRUE(c.failed());
}

// [ip.abort.6]: an InProgressAborted thrown into a coroutine calls the exception listeners
// first, then the abort listeners (kaa's order).
TEST(CoroutineAbort, ThrowingAnAbortIntoACoroutineCallsExceptionListenersFirst) {
    Log log;
    auto c = []() -> kaa::Coroutine<> { co_await kaa::NotFinished; }();
    c.connect_abort([&](const kaa::InProgressAborted&) { log.push_back("abort listener"); });
    c.connect_exception([&](std::exception_ptr) { log.push_back("exception listener"); });
    c.throw_exception(kaa::InProgressAborted("thrown in"));
    EXPECT_EQ(log, (Log{"exception listener", "abort listener"}));
    EXPECT_TRUE(c.failed());
}

// [core.thread.2] / [coro.abort]: Coroutine::abort() from a worker is posted to the loop
// thread: the InProgressAborted is thrown at the suspension point there, and the awaited
// InProgress is aborted (cascade, [coro.abort.4]) there too.
TEST(CoroutineAbort, AbortFromAWorkerIsDeliveredOnTheLoopThread) {
    const auto loop_thread = std::this_thread::get_id();
    auto awaited = abortable_ip();
    std::thread::id awaited_abort;
    awaited.connect_abort(
        [&](const kaa::InProgressAborted&) { awaited_abort = std::this_thread::get_id(); });
    std::thread::id caught_on;
    auto co = [](kaa::InProgress<> ip, std::thread::id* on) -> kaa::Coroutine<> {
        try {
            co_await ip;
        } catch (const kaa::InProgressAborted&) {
            *on = std::this_thread::get_id();
        }
    }(awaited, &caught_on);
    bool threw = false;
    std::thread worker([co, &threw]() mutable {
        try {
            co.abort();  // returns at once
        } catch (...) {
            threw = true;
        }
    });
    worker.join();
    EXPECT_FALSE(threw);
    kaa::main::loop([&] { return !co.finished(); }, 5s);
    ASSERT_TRUE(co.failed());
    EXPECT_THROW(co.result(), kaa::InProgressAborted);
    EXPECT_EQ(caught_on, loop_thread);
    EXPECT_TRUE(awaited.failed());
    EXPECT_EQ(awaited_abort, loop_thread);
}

// [core.thread.2] / [coro.abort]: the InProgressAborted a coroutine aborted from a worker does
// not catch is its outcome: it neither escapes the loop nor is reported.
TEST(CoroutineAbort, UncaughtAbortFromAWorkerEndsTheCoroutineQuietly) {
    kaa::test::ReportCapture reports;
    {
        auto co = just_await(abortable_ip());
        bool threw = false;
        std::thread worker([co, &threw]() mutable {
            try {
                co.abort();
            } catch (...) {
                threw = true;
            }
        });
        worker.join();
        EXPECT_FALSE(threw);
        EXPECT_NO_THROW(kaa::main::loop([&] { return !co.finished(); }, 5s));
        ASSERT_TRUE(co.failed());
        bool aborted = false;
        try {
            std::rethrow_exception(co.exception());  // does not count as handling it
        } catch (const kaa::InProgressAborted&) {
            aborted = true;
        } catch (...) {
        }
        EXPECT_TRUE(aborted);
    }
    EXPECT_EQ(reports.count(), 0u);
}

// [core.thread.2]: an abort() from a worker that the loop thread refuses (the coroutine
// finished meanwhile) is reported with a context naming abort().
TEST(CoroutineAbort, AbortFromAWorkerOfAFinishedCoroutineIsReported) {
    kaa::test::ReportCapture reports;
    auto co = []() -> kaa::Coroutine<int> { co_return 1; }();
    bool threw = false;
    std::thread worker([co, &threw]() mutable {
        try {
            co.abort();
        } catch (...) {
            threw = true;
        }
    });
    worker.join();
    EXPECT_FALSE(threw);
    EXPECT_NO_THROW(kaa::main::loop([&] { return reports.count() == 0; }, 5s));
    ASSERT_EQ(reports.count(), 1u);
    EXPECT_EQ(reports.contexts()[0], "Exception in abort() called from another thread");
    EXPECT_EQ(co.result(), 1);
}

// [core.thread.2]: Coroutine::throw_exception() from a worker on a coroutine that finished is
// refused on the loop thread and reported, as a finish() from another thread; nothing is thrown
// out of the loop.
TEST(CoroutineAbort, ThrowExceptionFromAWorkerOnAFinishedCoroutineIsReported) {
    kaa::test::ReportCapture reports;
    auto co = []() -> kaa::Coroutine<int> { co_return 1; }();
    std::thread worker([co]() mutable { co.throw_exception(std::runtime_error("late")); });
    worker.join();
    EXPECT_NO_THROW(kaa::main::loop([&] { return reports.count() == 0; }, 5s));
    ASSERT_EQ(reports.count(), 1u);
    EXPECT_EQ(reports.contexts()[0], "Exception in finish() called from another thread");
    EXPECT_EQ(co.result(), 1);
}

// [ip.handled.4]: no InProgressAborted of any subclass is reported, with or without a policy.
TEST(CoroutineAbort, PolicyLessCoroutineFailingWithTimeoutExceptionIsNotReported) {
    kaa::test::ReportCapture reports;
    {
        kaa::InProgress<> ip;
        auto c = just_await(ip);
        ip.throw_exception(kaa::TimeoutException("too slow"));
        ASSERT_TRUE(c.failed());
        EXPECT_THROW(std::rethrow_exception(c.exception()), kaa::TimeoutException);
    }
    EXPECT_EQ(reports.count(), 0u);
}

// [ip.handled.4]: a noabort() shield inheriting an abort is not reported.
TEST(CoroutineAbort, NoabortShieldOfAnAbortedInProgressIsNotReported) {
    kaa::test::ReportCapture reports;
    {
        auto ip = abortable_ip();
        auto shield = ip.noabort();
        ip.abort();
        ASSERT_TRUE(shield.failed());
    }
    {
        auto c = just_await(abortable_ip());
        auto shield = c.noabort();
        EXPECT_THROW(c.abort(), kaa::InProgressAborted);
        ASSERT_TRUE(shield.failed());
    }
    EXPECT_EQ(reports.count(), 0u);
}

// [ip.handled.4], [coro.life.3]: shields of coroutines unwound at loop shutdown are not
// reported (a busy program that stops printed one report per shield).
TEST(CoroutineAbort, NoabortShieldsPendingAtLoopShutdownAreNotReported) {
    kaa::test::ReportCapture reports;
    {
        kaa::InProgress<> never;
        std::vector<kaa::InProgress<>> shields;
        for (int i = 0; i < 100; ++i) shields.push_back(just_await(never).noabort());
        kaa::OneShotTimer stop([] { kaa::main::stop(); });
        stop.start(0s);
        kaa::main::run();
        for (auto& s : shields) ASSERT_TRUE(s.failed());
    }
    EXPECT_EQ(reports.count(), 0u);
}

// [coro.abort.4]: the awaited InProgress that the abort names (e.inprogress(), a weak
// reference) is still there when the body sees the abort, even if only the coroutine held it.
TEST(CoroutineAbort, AbortNamesTheAwaitedInProgressEvenIfOnlyTheCoroutineHeldIt) {
    bool valid = false;
    bool finished = false;
    auto c = [](bool* valid, bool* finished) -> kaa::Coroutine<> {
        try {
            co_await kaa::delay(5s);
        } catch (const kaa::InProgressAborted& e) {
            *valid = e.inprogress().valid();
            *finished = *valid && e.inprogress().finished();
        }
    }(&valid, &finished);
    c.abort();
    EXPECT_TRUE(valid);
    EXPECT_TRUE(finished);
}
