// Tests for kaa/thread.hpp: threaded (new thread, pool, MAINTHREAD, blocking, progress), abort
// of queued and running calls, ThreadPool, MainThreadCallable, synchronized.
// Named after docs/semantics.md [check.G96]–[check.G104] and [thread.progress.1]/[thread.sync.1].
// The ThreadPool tests are in thread_pool_test.cpp, the synchronized tests in
// synchronized_test.cpp.
//
// Synchronisation: latches, condition variables and stop tokens; the loop is driven with
// ip.wait() or main::loop(cond, timeout) (a worker that ends a wait calls main::wakeup()).

#include <kaa/thread.hpp>  // first: the header is self-contained

#include <kaa/coroutine.hpp>
#include <kaa/errors.hpp>
#include <kaa/inprogress.hpp>
#include <kaa/main.hpp>
#include <kaa/status.hpp>
#include <kaa/timer.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "thread_util.hpp"

namespace {

using namespace std::chrono_literals;
using kaa::test::Counted;
using kaa::test::loop_until;
using kaa::test::ReportCapture;
using kaa::test::wait_for_stop;

// ------------------------------------------------------------------ G96 threaded()

// [check.G96]
TEST(Threaded, RunsOffTheLoopThreadAndCallsBackOnIt) {
    const auto loop_thread = std::this_thread::get_id();
    auto f = kaa::threaded([](int x) { return std::make_pair(std::this_thread::get_id(), x * 2); });
    auto ip = f(21);
    EXPECT_TRUE(ip.abortable());
    std::thread::id callback_thread;
    ip.connect([&](const std::pair<std::thread::id, int>&) {
        callback_thread = std::this_thread::get_id();
    });
    auto [job_thread, value] = ip.wait();
    EXPECT_EQ(value, 42);
    EXPECT_NE(job_thread, loop_thread);
    EXPECT_EQ(callback_thread, loop_thread);
    EXPECT_FALSE(ip.active());
}

// [check.G96]
TEST(Threaded, PoolCallsRunOnPoolThreadsAndCallBackOnTheLoop) {
    auto pool = std::make_shared<kaa::ThreadPool>(2);
    const auto loop_thread = std::this_thread::get_id();
    auto f = kaa::threaded({.pool = pool}, [] { return kaa::is_mainthread(); });
    auto ip = f();
    bool called_on_loop = false;
    ip.connect([&](bool) { called_on_loop = kaa::is_mainthread(); });
    EXPECT_FALSE(ip.wait());
    EXPECT_TRUE(called_on_loop);
    EXPECT_EQ(std::this_thread::get_id(), loop_thread);
    EXPECT_TRUE(kaa::is_mainthread());
}

kaa::Coroutine<int> await_threaded(kaa::ThreadFunction<int (*)(int)> fn, int x) {
    int v = co_await fn(x);
    co_return v + 1;
}

int times_ten(int x) { return x * 10; }

// [check.G96]: a ThreadInProgress is an InProgress, so coroutines await it.
TEST(Threaded, CoroutineAwaitsThreadedCall) {
    auto pool = std::make_shared<kaa::ThreadPool>(1);
    auto fn = kaa::threaded({.pool = pool}, &times_ten);
    auto co = await_threaded(fn, 4);
    EXPECT_EQ(co.wait(), 41);
}

// [check.G96]
TEST(Threaded, ExceptionFailsTheInProgress) {
    auto f = kaa::threaded([]() -> int { throw std::runtime_error("boom"); });
    auto ip = f();
    EXPECT_THROW(ip.wait(), std::runtime_error);
    EXPECT_TRUE(ip.failed());
}

// [check.G96]: a failure nobody consumed is reported when the last handle goes.
TEST(Threaded, UnconsumedExceptionIsReported) {
    ReportCapture cap;
    auto f = kaa::threaded([] { throw std::runtime_error("lost"); });
    {
        auto ip = f();
        kaa::main::loop([&] { return !ip.finished(); }, 20s);
        EXPECT_TRUE(ip.failed());
    }
    ASSERT_EQ(cap.count(), 1u);
    EXPECT_EQ(cap.messages()[0], "std::runtime_error: lost");
}

// Arguments are copied into the job and destroyed with it; nothing leaks.
TEST(Threaded, ArgumentsAreCopiedAndFreed) {
    Counted::reset();
    {
        auto pool = std::make_shared<kaa::ThreadPool>(2);
        auto f = kaa::threaded({.pool = pool}, [](Counted c, const std::string& s) {
            return c.value + static_cast<int>(s.size());
        });
        std::vector<kaa::ThreadInProgress<int>> ips;
        for (int i = 0; i < 50; ++i) ips.push_back(f(Counted{i}, std::string("abc")));
        for (int i = 0; i < 50; ++i) EXPECT_EQ(ips[static_cast<std::size_t>(i)].wait(), i + 3);
    }
    EXPECT_EQ(Counted::alive(), 0);
}

// Member functions take the object as a pointer (arguments are copied, as std::thread does).
TEST(Threaded, MemberFunctionWithObjectPointer) {
    struct Image {
        int width = 640;
        int scaled(int percent) const { return width * percent / 100; }
    };
    Image img;
    auto scale = kaa::threaded(&Image::scaled);
    EXPECT_EQ(scale(&img, 50).wait(), 320);
}

// ------------------------------------------------------------------ G97 blocking form

// [check.G97]
TEST(ThreadedBlocking, ReturnsTheValue) {
    auto twice = kaa::threaded_blocking([](int x) { return x * 2; });
    EXPECT_EQ(twice(21), 42);
    auto pool = std::make_shared<kaa::ThreadPool>(1);
    auto pooled = kaa::threaded_blocking({.pool = pool}, [](std::string s) { return s + "!"; });
    EXPECT_EQ(pooled("hi"), "hi!");
}

// [check.G97]
TEST(ThreadedBlocking, RethrowsTheException) {
    auto fails = kaa::threaded_blocking([]() -> int { throw std::out_of_range("nope"); });
    EXPECT_THROW(fails(), std::out_of_range);
    auto void_fails = kaa::threaded_blocking([] { throw std::logic_error("void"); });
    EXPECT_THROW(void_fails(), std::logic_error);
}

// [check.G97]: on the loop thread the loop keeps running while the call is waited for.
TEST(ThreadedBlocking, KeepsTheLoopRunningWhileWaiting) {
    std::latch posted_ran(1);
    auto f = kaa::threaded_blocking([&] {
        posted_ran.wait();  // only returns once the loop has run the posted task
        return 5;
    });
    kaa::main::post([&] { posted_ran.count_down(); });
    EXPECT_EQ(f(), 5);
}

// [check.G97] with MAINTHREAD on the loop thread: runs at once.
TEST(ThreadedBlocking, MainThreadOnTheLoopThreadRunsDirectly) {
    auto f = kaa::threaded_blocking({.pool = kaa::MAINTHREAD}, [] { return kaa::is_mainthread(); });
    EXPECT_TRUE(f());
}

// ------------------------------------------------------------------ G98 MAINTHREAD

// [check.G98]
TEST(MainThread, OnTheLoopThreadRunsSynchronously) {
    int calls = 0;
    auto f = kaa::threaded({.pool = kaa::MAINTHREAD}, [&](int x) {
        ++calls;
        return kaa::is_mainthread() ? x : -1;
    });
    auto ip = f(3);
    EXPECT_EQ(calls, 1);
    ASSERT_TRUE(ip.finished());
    EXPECT_EQ(ip.result(), 3);
}

// [check.G98]
TEST(MainThread, FromAWorkerIsQueuedAndFinishedByTheLoop) {
    ASSERT_TRUE(kaa::is_mainthread());  // first use: the test thread is kaa's main thread
    auto f = kaa::threaded({.pool = kaa::MAINTHREAD}, [] { return kaa::is_mainthread(); });
    std::optional<kaa::ThreadInProgress<bool>> from_worker;
    bool unfinished_in_worker = false;
    bool worker_is_main = true;
    std::thread t([&] {
        worker_is_main = kaa::is_mainthread();
        auto ip = f();
        unfinished_in_worker = !ip.finished();  // the loop is not running: it cannot be
        from_worker.emplace(ip);
    });
    t.join();
    EXPECT_FALSE(worker_is_main);
    EXPECT_TRUE(unfinished_in_worker);
    EXPECT_TRUE(from_worker->wait());  // ran on the loop thread
}

// [check.G98]: MAINTHREAD calls from a pool job, e.g. to report progress, run in call order.
TEST(MainThread, CallsFromAWorkerRunInOrder) {
    ASSERT_TRUE(kaa::is_mainthread());  // first use: the test thread is kaa's main thread
    std::vector<int> seen;
    auto report = kaa::threaded({.pool = kaa::MAINTHREAD}, [&](int i) { seen.push_back(i); });
    auto work = kaa::threaded([&] {
        for (int i = 0; i < 100; ++i) report(i);
    });
    work().wait();
    loop_until([&] { return seen.size() == 100; });
    ASSERT_EQ(seen.size(), 100u);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[static_cast<std::size_t>(i)], i);
}

// ------------------------------------------------------------------ G99 MainThreadCallable

// [check.G99]
TEST(MainThreadCallable, ExceptionReachesTheWaitingWorker) {
    ASSERT_TRUE(kaa::is_mainthread());  // first use: the test thread is kaa's main thread
    kaa::MainThreadCallable fail([]() -> int { throw std::runtime_error("from main"); });
    std::atomic<bool> done{false};
    std::string caught;
    bool ran_on_main = false;
    kaa::MainThreadCallable probe([&] { ran_on_main = kaa::is_mainthread(); });
    std::thread t([&] {
        probe().wait();
        // The handle outlives the catch: the worker's release then orders its use of the
        // exception before the loop frees it. (libstdc++'s own exception refcount does too, but
        // TSan cannot see it: libstdc++ is not instrumented.)
        auto ip = fail();
        try {
            ip.wait();
        } catch (const std::runtime_error& e) {
            caught = e.what();
        }
        done = true;
        kaa::main::wakeup();
    });
    kaa::main::loop([&] { return !done.load(); }, 20s);
    t.join();
    EXPECT_TRUE(ran_on_main);
    EXPECT_EQ(caught, "from main");
}

// ------------------------------------------------------------------ G101 abort queued

// [check.G101]
TEST(ThreadAbort, QueuedJobFailsAtOnceAndNeverRuns) {
    auto pool = std::make_shared<kaa::ThreadPool>(1);
    std::latch started(1);
    std::latch gate(1);
    auto blocker = kaa::threaded({.pool = pool}, [&] {
        started.count_down();
        gate.wait();
    });
    std::atomic<bool> ran{false};
    auto victim = kaa::threaded({.pool = pool}, [&] {
        ran = true;
        return 1;
    });
    auto after = kaa::threaded({.pool = pool}, [] { return 2; });

    auto b = blocker();
    started.wait();
    auto ip = victim();
    auto next = after();
    EXPECT_TRUE(ip.active());
    bool abort_listener = false;
    ip.connect_abort([&](const kaa::InProgressAborted&) { abort_listener = true; });
    ip.abort();
    EXPECT_TRUE(abort_listener);
    ASSERT_TRUE(ip.finished());
    EXPECT_TRUE(ip.failed());
    EXPECT_FALSE(ip.active());
    EXPECT_THROW(ip.result(), kaa::InProgressAborted);
    EXPECT_FALSE(ip.stop_requested());

    gate.count_down();
    EXPECT_EQ(next.wait(), 2);  // FIFO: the aborted job was dequeued (and skipped) before it
    b.wait();
    EXPECT_FALSE(ran.load());
    try {
        ip.abort();
        ADD_FAILURE() << "abort() of a finished call did not throw";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "kaa: abort(): InProgress already finished");
    }
}

// [check.G101]: aborting a queued MAINTHREAD call from a worker also means it never runs.
TEST(ThreadAbort, QueuedMainThreadCallNeverRuns) {
    ASSERT_TRUE(kaa::is_mainthread());  // first use: the test thread is kaa's main thread
    bool ran = false;
    auto f = kaa::threaded({.pool = kaa::MAINTHREAD}, [&] { ran = true; });
    std::optional<kaa::ThreadInProgress<void>> ip;
    std::thread t([&] { ip.emplace(f()); });
    t.join();
    ip->abort();
    EXPECT_TRUE(ip->failed());
    // A second call queued after it: once it ran, the first was skipped.
    std::optional<kaa::ThreadInProgress<void>> second;
    bool second_ran = false;
    auto g = kaa::threaded({.pool = kaa::MAINTHREAD}, [&] { second_ran = true; });
    std::thread t2([&] { second.emplace(g()); });
    t2.join();
    second->wait();
    EXPECT_TRUE(second_ran);
    EXPECT_FALSE(ran);
}

// [core.thread.2] / [thread.abort.3]: a running call aborted from another thread: the abort
// is posted to the loop thread, where the abort signal and the listeners run; the call's
// stop_token is signalled.
TEST(ThreadAbort, AbortFromAnotherThreadRunsOnTheLoopThread) {
    const auto loop_thread = std::this_thread::get_id();
    auto pool = std::make_shared<kaa::ThreadPool>(1);
    std::latch started(1);
    auto fn = kaa::threaded({.pool = pool}, [&](std::stop_token st) {
        started.count_down();
        wait_for_stop(st);
        return 7;  // too late: discarded
    });
    std::thread::id signal_on, listener_on;
    fn.abort_signal().connect(
        [&](const kaa::InProgressAborted&) { signal_on = std::this_thread::get_id(); });
    auto ip = fn();
    ip.connect_exception([&](std::exception_ptr) { listener_on = std::this_thread::get_id(); });
    started.wait();
    bool threw = false;
    std::thread aborter([ip, &threw]() mutable {
        try {
            ip.abort();
        } catch (...) {
            threw = true;
        }
    });
    aborter.join();
    EXPECT_FALSE(threw);
    loop_until([&] { return ip.finished(); });
    ASSERT_TRUE(ip.failed());
    EXPECT_THROW(ip.result(), kaa::InProgressAborted);
    EXPECT_TRUE(ip.stop_requested());
    EXPECT_EQ(signal_on, loop_thread);
    EXPECT_EQ(listener_on, loop_thread);
}

// ------------------------------------------------------------------ G102 abort running

// [check.G102]
TEST(ThreadAbort, RunningJobFailsAtOnceEmitsAbortSignalAndRequestsStop) {
    auto pool = std::make_shared<kaa::ThreadPool>(1);
    std::latch started(1);
    std::atomic<bool> saw_stop{false};
    auto fn = kaa::threaded({.pool = pool}, [&](std::stop_token st) {
        started.count_down();
        wait_for_stop(st);
        saw_stop = st.stop_requested();
        return 7;  // too late: discarded
    });
    int signal_calls = 0;
    kaa::InProgressBase signalled;
    fn.abort_signal().connect([&](const kaa::InProgressAborted& e) {
        ++signal_calls;
        signalled = e.inprogress();
    });
    auto ip = fn();
    started.wait();
    EXPECT_TRUE(ip.active());
    ip.abort();
    EXPECT_TRUE(ip.finished());
    EXPECT_TRUE(ip.failed());
    EXPECT_EQ(signal_calls, 1);
    EXPECT_TRUE(signalled == ip);
    EXPECT_TRUE(ip.stop_requested());

    auto next = kaa::threaded({.pool = pool}, [] { return 8; })();
    EXPECT_EQ(next.wait(), 8);  // the aborted job returned before (size 1), and was drained
    EXPECT_TRUE(saw_stop.load());
    EXPECT_FALSE(ip.active());
    EXPECT_THROW(ip.result(), kaa::InProgressAborted);
}

// [check.G102] for the new-thread form (ThreadCallable).
TEST(ThreadAbort, RunningPerCallThreadFailsAtOnceAndIsAskedToStop) {
    std::latch started(1);
    std::atomic<bool> finished_body{false};
    auto fn = kaa::threaded([&](std::stop_token st) {
        started.count_down();
        wait_for_stop(st);
        finished_body = true;
        kaa::main::wakeup();
        return 3;
    });
    int signal_calls = 0;
    fn.abort_signal().connect([&](const kaa::InProgressAborted&) { ++signal_calls; });
    auto ip = fn();
    started.wait();
    ip.abort();
    EXPECT_TRUE(ip.failed());
    EXPECT_EQ(signal_calls, 1);
    EXPECT_TRUE(ip.stop_requested());
    loop_until([&] { return finished_body.load() && !ip.active(); });
    EXPECT_TRUE(finished_body.load());
    EXPECT_THROW(ip.result(), kaa::InProgressAborted);
}

// [check.G102]: a handler returning false keeps the stop token unsignalled (kaa: no injection).
TEST(ThreadAbort, AbortSignalHandlerReturningFalseSkipsTheStopRequest) {
    auto pool = std::make_shared<kaa::ThreadPool>(1);
    std::latch started(1);
    std::latch gate(1);
    std::atomic<int> stop_seen{-1};
    auto fn = kaa::threaded({.pool = pool}, [&](std::stop_token st) {
        started.count_down();
        gate.wait();
        stop_seen = st.stop_requested() ? 1 : 0;
    });
    fn.abort_signal().connect([](const kaa::InProgressAborted&) { return false; });
    auto ip = fn();
    started.wait();
    ip.abort();
    EXPECT_TRUE(ip.failed());  // the InProgress fails regardless
    EXPECT_FALSE(ip.stop_requested());
    gate.count_down();
    kaa::threaded({.pool = pool}, [] {})().wait();
    EXPECT_EQ(stop_seen.load(), 0);
}

// [check.G102]: an abort listener on the InProgress itself may veto, as for any InProgress.
TEST(ThreadAbort, AbortListenerVetoKeepsTheJobRunning) {
    auto pool = std::make_shared<kaa::ThreadPool>(1);
    std::latch gate(1);
    auto fn = kaa::threaded({.pool = pool}, [&](std::stop_token st) {
        gate.wait();
        return st.stop_requested();
    });
    auto ip = fn();
    ip.connect_abort([](const kaa::InProgressAborted&) { return false; });
    EXPECT_THROW(ip.abort(), std::runtime_error);
    EXPECT_FALSE(ip.finished());
    gate.count_down();
    EXPECT_FALSE(ip.wait());
}

// docs/semantics.md [ip.abort.2], [ip.abort.7] for a threaded call: abort(nullptr) throws
// std::invalid_argument at the call, and an abort listener aborting the call again is refused
// ("already being aborted") instead of recursing; the outer abort stops the job.
TEST(ThreadAbort, NullOrReentrantAbortIsRefused) {
    auto pool = std::make_shared<kaa::ThreadPool>(1);
    auto fn = kaa::threaded({.pool = pool}, [](std::stop_token st) {
        wait_for_stop(st);
        return 1;
    });
    auto ip = fn();
    try {
        ip.abort(std::exception_ptr{});
        ADD_FAILURE() << "abort(nullptr) did not throw";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "kaa: abort() with a null exception_ptr");
    }
    EXPECT_FALSE(ip.finished());
    std::string refused;
    ip.connect_abort([&](const kaa::InProgressAborted&) {
        try {
            ip.abort();
        } catch (const std::runtime_error& e) {
            refused = e.what();
        }
    });
    ip.abort();
    EXPECT_EQ(refused, "kaa: abort(): InProgress already being aborted");
    EXPECT_TRUE(ip.failed());
    // Cancelled while queued, or asked to stop while running: either way the pool drains.
    EXPECT_EQ(kaa::threaded({.pool = pool}, [] { return 2; })().wait(), 2);
}

kaa::Coroutine<int> await_job(kaa::ThreadFunction<std::function<int(std::stop_token)>> fn,
                              kaa::InProgressBase* job_out) {
    auto job = fn();
    *job_out = job;
    int v = co_await job;
    co_return v;
}

// [check.G102] + [check.B] ([thread.abort.4]): aborting a coroutine that awaits a threaded call
// cascades to the call.
TEST(ThreadAbort, CoroutineAbortCascadesToTheAwaitedCall) {
    auto pool = std::make_shared<kaa::ThreadPool>(1);
    std::latch started(1);
    std::atomic<bool> saw_stop{false};
    std::function<int(std::stop_token)> body = [&](std::stop_token st) {
        started.count_down();
        wait_for_stop(st);
        saw_stop = true;
        return 1;
    };
    kaa::ThreadFunction<std::function<int(std::stop_token)>> fn({.pool = pool}, body);
    int signal_calls = 0;
    fn.abort_signal().connect([&](const kaa::InProgressAborted&) { ++signal_calls; });
    kaa::InProgressBase job;
    auto co = await_job(fn, &job);
    started.wait();
    EXPECT_THROW(co.abort(), kaa::InProgressAborted);  // the body does not catch it
    EXPECT_TRUE(co.failed());
    EXPECT_TRUE(job.finished());
    EXPECT_TRUE(job.failed());
    EXPECT_EQ(signal_calls, 1);
    kaa::threaded({.pool = pool}, [] {})().wait();
    EXPECT_TRUE(saw_stop.load());
}

// ------------------------------------------------------------------ progress ([thread.progress.1])

// [check.G] / [thread.progress.1]: each call gets its own status, first, also reachable as progress().
TEST(Threaded, ProgressHandsEachCallItsOwnStatus) {
    auto scan = kaa::threaded({.progress = true}, [](kaa::InProgressStatus& s, int n) {
        s.set(0, n);
        for (int i = 0; i < n; ++i) s.update();
        return &s;
    });
    auto a = scan(5);
    auto b = scan(3);
    kaa::InProgressStatus* sa = a.wait();
    kaa::InProgressStatus* sb = b.wait();
    EXPECT_NE(sa, sb);
    EXPECT_EQ(a.progress().get(), sa);
    EXPECT_EQ(b.progress().get(), sb);
    EXPECT_EQ(sa->pos(), 5);
    EXPECT_EQ(sa->max(), 5);
    EXPECT_EQ(sb->pos(), 3);
}

// [thread.progress.1]: with a stop token, the order is (stop_token, status, args...).
TEST(Threaded, ProgressComesAfterTheStopToken) {
    auto f = kaa::threaded({.progress = true},
                           [](std::stop_token st, kaa::InProgressStatus& s, int n) {
                               s.set(n, n);
                               return !st.stop_requested();
                           });
    auto ip = f(4);
    EXPECT_TRUE(ip.wait());
    EXPECT_EQ(ip.progress()->pos(), 4);
}

TEST(Threaded, ProgressMismatchThrowsTypeError) {
    auto no_status = kaa::threaded({.progress = true}, [](int) {});
    EXPECT_THROW(no_status(1), kaa::TypeError);
    auto needs_status = kaa::threaded([](kaa::InProgressStatus&) {});
    EXPECT_THROW(needs_status(), kaa::TypeError);
}

// ------------------------------------------------------------------ named callables

TEST(Threaded, NamedCallableClasses) {
    kaa::ThreadCallable per_thread([](int x) { return x + 1; });
    EXPECT_EQ(per_thread(1).wait(), 2);
    EXPECT_EQ(per_thread.target().kind(), kaa::ThreadTarget::Kind::new_thread);
    auto pool = std::make_shared<kaa::ThreadPool>(1);
    kaa::ThreadPoolCallable pooled(pool, 7, [](int x) { return x + 2; });
    EXPECT_EQ(pooled.priority(), 7);
    EXPECT_EQ(pooled(1).wait(), 3);
    kaa::MainThreadCallable main_call([](int x) { return x + 3; });
    auto ip = main_call(1);
    ASSERT_TRUE(ip.finished());
    EXPECT_EQ(ip.result(), 4);
}

}  // namespace

// [thread.abort.4]: the same cascade for a new-thread call (no pool): nothing but the aborted
// coroutine waits for it, so it is aborted and its stop token signalled.
TEST(ThreadAbort, CoroutineAbortCascadesToAnAwaitedNewThreadCall) {
    std::latch started(1);
    std::atomic<bool> finished_body{false};
    auto fn = kaa::threaded([&](std::stop_token st) {
        started.count_down();
        wait_for_stop(st);
        finished_body = true;
        kaa::main::wakeup();
        return 3;
    });
    auto call = fn();
    auto co = [](decltype(call) c) -> kaa::Coroutine<int> { co_return co_await c; }(call);
    started.wait();
    EXPECT_THROW(co.abort(), kaa::InProgressAborted);  // the body does not catch it
    EXPECT_TRUE(co.failed());
    EXPECT_TRUE(call.failed());
    EXPECT_TRUE(call.stop_requested());
    loop_until([&] { return finished_body.load() && !call.active(); });
    EXPECT_TRUE(finished_body.load());
}
