// kaa::debug (kaa/debug.hpp): pending()'s async backtraces, the stall detector, coroutine names
// in unhandled-exception reports, the loop-thread checks ([debug], [core.thread.4]); and the
// foreign-loop API of kaa/main.hpp (backend_fd(), backend_timeout(), step_nowait(),
// [loop.host]).

#include <kaa/coroutine.hpp>
#include <kaa/debug.hpp>
#include <kaa/delay.hpp>
#include <kaa/errors.hpp>
#include <kaa/inprogress.hpp>
#include <kaa/io_channel.hpp>
#include <kaa/main.hpp>
#include <kaa/thread.hpp>
#include <kaa/timer.hpp>

#include "test_util.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

// Runs the loop until `done()` or 10 s.
template <class F>
void loop_until(F done) {
    kaa::main::loop([&] { return !done(); }, 10s);
}

// The three links of an async backtrace: top awaits middle awaits leaf awaits `ip`.
constexpr unsigned kLeafAwaitLine = __LINE__ + 2;
kaa::Coroutine<int> pending_leaf(kaa::InProgress<int> ip) {
    const int v = co_await ip;
    co_return v + 1;
}
constexpr unsigned kMiddleAwaitLine = __LINE__ + 2;
kaa::Coroutine<int> pending_middle(kaa::InProgress<int> ip) {
    const int v = co_await pending_leaf(ip);
    co_return v + 1;
}
kaa::Coroutine<int> pending_top(kaa::InProgress<int> ip) {
    const int v = co_await pending_middle(ip);
    co_return v + 1;
}

/// The root named `function` in pending()'s forest (other tests may leave frames behind).
const kaa::debug::PendingCoroutine* find_root(const std::vector<kaa::debug::PendingCoroutine>& f,
                                              const std::string& function,
                                              const std::string& waits_on_prefix = "") {
    for (const auto& n : f) {
        if (n.function == function && n.waits_on.rfind(waits_on_prefix, 0) == 0) return &n;
    }
    return nullptr;
}

bool ends_with(const char* s, const std::string& tail) {
    const std::string str = s ? s : "";
    return str.size() >= tail.size() &&
           str.compare(str.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

// [debug.pending.1] A chain of awaiting coroutines is one tree: the outermost coroutine is the
// root, each node awaits the next; each names its function, where it was created, where it
// waits and on what.
TEST(DebugPending, ListsAChainOfAwaitingCoroutinesAsOneTree) {
    if (!kaa::debug::aids_enabled()) GTEST_SKIP() << "built without the debug aids";
    kaa::InProgress<int> ip;
    auto top = pending_top(ip);
    const auto forest = kaa::debug::pending();
    const auto* root = find_root(forest, "pending_top");
    ASSERT_NE(root, nullptr) << kaa::debug::to_string(forest);
    EXPECT_TRUE(ends_with(root->created.file, "debug_test.cpp"));
    EXPECT_EQ(root->waits_on.rfind("coroutine pending_middle (debug_test.cpp:", 0), 0u)
        << root->waits_on;
    ASSERT_EQ(root->awaits.size(), 1u);
    const auto& middle = root->awaits[0];
    EXPECT_EQ(middle.function, "pending_middle");
    EXPECT_EQ(middle.waits_at.line, kMiddleAwaitLine);
    ASSERT_EQ(middle.awaits.size(), 1u);
    const auto& leaf = middle.awaits[0];
    EXPECT_EQ(leaf.function, "pending_leaf");
    EXPECT_EQ(leaf.waits_at.line, kLeafAwaitLine);
    EXPECT_TRUE(ends_with(leaf.waits_at.file, "debug_test.cpp"));
    EXPECT_EQ(leaf.waits_on, "InProgress");
    EXPECT_TRUE(leaf.awaits.empty());
    // Neither link below the root is a root of its own.
    EXPECT_EQ(find_root(forest, "pending_middle"), nullptr);
    EXPECT_EQ(find_root(forest, "pending_leaf"), nullptr);

    // The text form: one line per coroutine, indented by depth.
    const std::string text = kaa::debug::to_string({*root});
    EXPECT_NE(text.find("coroutine pending_top (debug_test.cpp:"), std::string::npos) << text;
    EXPECT_NE(text.find("\n  coroutine pending_middle (debug_test.cpp:"), std::string::npos)
        << text;
    EXPECT_NE(text.find("\n    coroutine pending_leaf (debug_test.cpp:"), std::string::npos)
        << text;
    EXPECT_NE(
        text.find("waits at debug_test.cpp:" + std::to_string(kLeafAwaitLine) + " on InProgress\n"),
        std::string::npos)
        << text;

    ip.finish(1);
    ASSERT_TRUE(top.finished());
    EXPECT_EQ(top.result(), 4);
    EXPECT_EQ(find_root(kaa::debug::pending(), "pending_top"), nullptr);
}

namespace {
kaa::Coroutine<> pending_sleeper(std::chrono::milliseconds d) { co_await kaa::delay(d); }
kaa::Coroutine<> pending_yielder() {
    for (;;) co_await kaa::NotFinished;
}
}  // namespace

// [debug.pending.2] What a coroutine waits on is named: a delay(), NotFinished.
TEST(DebugPending, NamesWhatEachCoroutineWaitsOn) {
    if (!kaa::debug::aids_enabled()) GTEST_SKIP() << "built without the debug aids";
    auto sleeper = pending_sleeper(60s);
    auto yielder = pending_yielder();
    const auto forest = kaa::debug::pending();
    const auto* s = find_root(forest, "pending_sleeper");
    ASSERT_NE(s, nullptr) << kaa::debug::to_string(forest);
    EXPECT_EQ(s->waits_on.rfind("delay() (due in ", 0), 0u) << s->waits_on;
    const auto* y = find_root(forest, "pending_yielder");
    ASSERT_NE(y, nullptr) << kaa::debug::to_string(forest);
    EXPECT_EQ(y->waits_on, "NotFinished (next iteration)");
    // Neither catches the abort: abort() rethrows it ([coro.abort]).
    EXPECT_THROW(sleeper.abort(), kaa::InProgressAborted);
    EXPECT_THROW(yielder.abort(), kaa::InProgressAborted);
    EXPECT_EQ(find_root(kaa::debug::pending(), "pending_sleeper"), nullptr);
    EXPECT_EQ(find_root(kaa::debug::pending(), "pending_yielder"), nullptr);
}

namespace {
kaa::Coroutine<std::string> pending_reader(kaa::IOChannel& ch) { co_return co_await ch.read(); }
kaa::Coroutine<int> pending_thread_waiter(std::shared_future<void> gate) {
    auto job = kaa::threaded({}, [gate] {
        gate.wait();
        return 7;
    });
    co_return co_await job();
}
}  // namespace

// [debug.pending.2] An IOChannel read and a thread job are named as such.
TEST(DebugPending, NamesAnIOChannelReadAndAThreadJob) {
    if (!kaa::debug::aids_enabled()) GTEST_SKIP() << "built without the debug aids";
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    kaa::IOChannel ch(p[0]);
    auto reader = pending_reader(ch);
    std::promise<void> release;
    auto waiter = pending_thread_waiter(release.get_future().share());
    const auto forest = kaa::debug::pending();
    const auto* r = find_root(forest, "pending_reader");
    ASSERT_NE(r, nullptr) << kaa::debug::to_string(forest);
    EXPECT_EQ(r->waits_on, "IOChannel::read() on fd " + std::to_string(p[0]));
    const auto* w = find_root(forest, "pending_thread_waiter");
    ASSERT_NE(w, nullptr) << kaa::debug::to_string(forest);
    EXPECT_EQ(w->waits_on, "a thread job");
    release.set_value();
    ASSERT_EQ(::write(p[1], "x", 1), 1);
    loop_until([&] { return reader.finished() && waiter.finished(); });
    EXPECT_EQ(reader.result(), "x");
    EXPECT_EQ(waiter.result(), 7);
    ::close(p[1]);
}

// [debug.pending.1] Without the aids the frames are still listed, with what they wait on.
TEST(DebugPending, ListsSuspendedFramesInEveryBuild) {
    kaa::InProgress<int> ip;
    const std::size_t before = kaa::debug::pending().size();
    auto top = pending_top(ip);
    const auto after = kaa::debug::pending();
    EXPECT_EQ(after.size(), before + 1);  // one new root: the chain is one tree
    ip.finish(1);
    EXPECT_EQ(kaa::debug::pending().size(), before);
}

// [debug.stall.1] A timer callback that holds the loop past the threshold is reported, named
// after its callback. (The sleep is the stall under test, not synchronisation.)
TEST(DebugStall, ReportsATimerCallbackThatHeldTheLoop) {
    std::vector<kaa::debug::Stall> stalls;
    kaa::debug::set_stall_threshold(100ms,
                                    [&](const kaa::debug::Stall& s) { stalls.push_back(s); });
    bool fired = false;
    kaa::OneShotTimer t([&] {
        std::this_thread::sleep_for(200ms);
        fired = true;
    });
    t.start(0ms);
    loop_until([&] { return fired; });
    kaa::debug::set_stall_threshold(std::nullopt);
    ASSERT_EQ(stalls.size(), 1u);
    EXPECT_GE(stalls[0].duration, 200ms);
    EXPECT_EQ(stalls[0].what.rfind("the callback of a timer: ", 0), 0u) << stalls[0].what;
    // The callback's type names the function it was written in.
    EXPECT_NE(stalls[0].what.find("ReportsATimerCallbackThatHeldTheLoop"), std::string::npos)
        << stalls[0].what;
}

namespace {
kaa::Coroutine<> stalling_step() {
    co_await kaa::NotFinished;
    std::this_thread::sleep_for(200ms);  // the stall under test
}
}  // namespace

// [debug.stall.2] A coroutine step is its own unit: the stall is reported once, naming the
// coroutine, not also the ready-queue call that resumed it.
TEST(DebugStall, ReportsACoroutineStepOnceByName) {
    std::vector<kaa::debug::Stall> stalls;
    kaa::debug::set_stall_threshold(100ms,
                                    [&](const kaa::debug::Stall& s) { stalls.push_back(s); });
    auto c = stalling_step();
    loop_until([&] { return c.finished(); });
    kaa::debug::set_stall_threshold(std::nullopt);
    ASSERT_EQ(stalls.size(), 1u);
    if (kaa::debug::aids_enabled()) {
        EXPECT_EQ(stalls[0].what.rfind("coroutine stalling_step (debug_test.cpp:", 0), 0u)
            << stalls[0].what;
    } else {
        EXPECT_EQ(stalls[0].what, "coroutine");
    }
}

// [debug.stall.1] Under the threshold nothing is reported; disarmed, nothing is measured.
TEST(DebugStall, QuickCallbacksAreNotReported) {
    int reports = 0;
    kaa::debug::set_stall_threshold(1000ms, [&](const kaa::debug::Stall&) { ++reports; });
    bool fired = false;
    kaa::OneShotTimer t([&] { fired = true; });
    t.start(0ms);
    loop_until([&] { return fired; });
    kaa::debug::set_stall_threshold(std::nullopt);
    EXPECT_EQ(reports, 0);
    EXPECT_THROW(kaa::debug::set_stall_threshold(-1ms), std::invalid_argument);
}

namespace {
struct Boom : std::runtime_error {
    Boom() : std::runtime_error("boom") {}
};
kaa::Coroutine<> failing_worker(kaa::InProgress<> ip) {
    co_await ip;
    throw Boom();
}
}  // namespace

// [debug.report.1] An unconsumed coroutine failure names the coroutine and where it was made.
TEST(DebugReport, UnhandledCoroutineFailureNamesTheCoroutine) {
    kaa::test::ReportCapture reports;
    kaa::InProgress<> ip;
    { auto c = failing_worker(ip); }
    ip.finish();
    ASSERT_EQ(reports.count(), 1u);
    const std::string ctx = reports.contexts()[0];
    if (kaa::debug::aids_enabled()) {
        EXPECT_EQ(ctx.rfind("Unhandled InProgress exception in coroutine failing_worker "
                            "(debug_test.cpp:",
                            0),
                  0u)
            << ctx;
    } else {
        EXPECT_EQ(ctx, "Unhandled InProgress exception in coroutine");
    }
}

#ifndef NDEBUG
// [core.thread.4] Loop-only calls made on another thread end the process naming the call.
TEST(DebugDeathTest, PendingFromAWorkerFailsTheLoopThreadCheck) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    ASSERT_TRUE(kaa::main::is_mainthread());
    EXPECT_DEATH(
        {
            std::thread worker([] { (void)kaa::debug::pending(); });
            worker.join();
        },
        "kaa: debug::pending\\(\\) called off the loop thread");
}

TEST(DebugDeathTest, DelayFromAWorkerFailsTheLoopThreadCheck) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    ASSERT_TRUE(kaa::main::is_mainthread());
    EXPECT_DEATH(
        {
            std::thread worker([] { (void)kaa::delay(1ms); });
            worker.join();
        },
        "kaa: delay\\(\\) called off the loop thread");
}

TEST(DebugDeathTest, TimerIntervalFromAWorkerFailsTheLoopThreadCheck) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    ASSERT_TRUE(kaa::main::is_mainthread());
    kaa::Timer t([] {});
    EXPECT_DEATH(
        {
            std::thread worker([&t] { (void)t.interval(); });
            worker.join();
        },
        "kaa: Timer::interval\\(\\) called off the loop thread");
}
#endif

// ---------------------------------------------------------------- living with other loops

namespace {
kaa::Coroutine<int> hosted_worker(kaa::InProgress<int> posted, bool* slept) {
    co_await kaa::delay(20ms);
    *slept = true;
    const int v = co_await posted;
    co_await kaa::NotFinished;
    co_return v * 2;
}
}  // namespace

// [loop.host.1] A plain poll() loop on backend_fd(), waiting at most backend_timeout(), runs
// kaa's timers, posted work and coroutines with step_nowait().
TEST(ForeignLoop, APollLoopOnTheBackendFdDrivesKaa) {
    const int fd = kaa::main::backend_fd();
    ASSERT_GE(fd, 0);
    EXPECT_EQ(kaa::main::backend_fd(), fd);  // stable
    kaa::InProgress<int> posted;
    bool slept = false;
    auto c = hosted_worker(posted, &slept);
    // Only a timer is pending: the timeout is that timer's, within its 20 ms.
    const auto t = kaa::main::backend_timeout();
    ASSERT_TRUE(t.has_value());
    EXPECT_LE(*t, 20ms);
    std::thread poster;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!c.finished() && std::chrono::steady_clock::now() < deadline) {
        const auto timeout = kaa::main::backend_timeout();
        int ms = 1000;
        if (timeout)
            ms = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(*timeout).count());
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, ms);
        kaa::main::step_nowait();
        // Once the delay is over the coroutine awaits `posted`: finish it from another thread,
        // which makes the backend fd readable.
        if (slept && !poster.joinable()) {
            poster = std::thread([posted]() mutable { posted.finish(21); });
        }
    }
    if (poster.joinable()) poster.join();
    ASSERT_TRUE(c.finished());
    EXPECT_EQ(c.result(), 42);
}

// [loop.host.2] Work posted from another thread makes the backend fd readable; step_nowait()
// runs it and drains the wakeup, after which the fd is quiet again.
TEST(ForeignLoop, PostedWorkMakesTheBackendFdReadable) {
    const int fd = kaa::main::backend_fd();
    kaa::main::step_nowait();  // drain whatever earlier tests left
    bool ran = false;
    std::thread([&ran] { kaa::main::post([&ran] { ran = true; }); }).join();
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1);
    EXPECT_EQ(kaa::main::backend_timeout(), std::chrono::nanoseconds::zero());  // work is ready
    kaa::main::step_nowait();
    EXPECT_TRUE(ran);
    p.revents = 0;
    EXPECT_EQ(::poll(&p, 1, 0), 0);
}
