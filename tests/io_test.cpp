// Tests for kaa/io.hpp: IOMonitor and WeakIOMonitor over pipes, and the loop's I/O phase
// (re-checking watchers mid-batch, the fd generation check). [check.H105], [io.monitor], [loop.phase.3].
//
// The loop is driven with main::step() while something is ready or due (a Ticker), or with
// main::loop(cond, timeout); readiness is level-triggered, so "not called in the next steps"
// proves a monitor is unregistered.

#include <kaa/coroutine.hpp>
#include <kaa/errors.hpp>
#include <kaa/io.hpp>
#include <kaa/main.hpp>
#include <kaa/timer.hpp>

#include "test_util.hpp"

#include <gtest/gtest.h>

#include "loop_util.hpp"

#include "../examples/io_example.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

using kaa::test::steps;
using kaa::test::Ticker;

// A non-blocking pipe, closed on destruction.
struct Pipe {
    int r = -1;
    int w = -1;
    Pipe() {
        int fds[2];
        if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
            throw std::system_error(errno, std::generic_category(), "pipe2");
        r = fds[0];
        w = fds[1];
    }
    ~Pipe() {
        if (r >= 0) ::close(r);
        if (w >= 0) ::close(w);
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    void put(const char* s = "x") const {
        ASSERT_GT(::write(w, s, std::char_traits<char>::length(s)), 0);
    }
    std::string drain() const {
        std::string out;
        char buf[256];
        ssize_t n;
        while ((n = ::read(r, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
        return out;
    }
};

struct Owner {
    int calls = 0;
    const Pipe* pipe = nullptr;
    void on_readable() {
        ++calls;
        pipe->drain();
    }
};

}  // namespace

// docs/semantics.md [check.H105]
TEST(IOMonitor, CallsItsCallbackWithOnlyItsBoundArgumentsWhenReadable) {
    Pipe p;
    std::vector<std::string> seen;
    kaa::IOMonitor m(
        [&](int n, const std::string& s) {
            seen.push_back(std::to_string(n) + s + ":" + p.drain());
        },
        42, std::string("a"));
    m.register_fd(p.r);
    EXPECT_TRUE(m.active());
    EXPECT_EQ(m.fd(), p.r);
    EXPECT_EQ(m.condition(), kaa::IO_READ);
    p.put("hello");
    kaa::main::loop([&] { return seen.empty(); }, 5s);
    EXPECT_EQ(seen, std::vector<std::string>{"42a:hello"});
    EXPECT_TRUE(m.active());  // void: stays registered
}

// [check.H105]
TEST(IOMonitor, CallbackReturningFalseUnregisters) {
    Ticker ticker;
    Pipe p;
    int calls = 0;
    kaa::IOMonitor m([&] {
        ++calls;
        return false;  // does not read: the fd stays readable
    });
    m.register_fd(p.r);
    p.put();
    steps(3);
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(m.active());
    EXPECT_EQ(m.fd(), -1);
}

// [io.monitor.2]: only an explicit false counts
TEST(IOMonitor, CallbackReturningTrueOrVoidStaysRegistered) {
    Ticker ticker;
    Pipe p;
    int calls = 0;
    kaa::IOMonitor m([&] {
        ++calls;
        return true;
    });
    m.register_fd(p.r);
    p.put();
    steps(3);
    EXPECT_EQ(calls, 3);  // level-triggered, never read
    EXPECT_TRUE(m.active());
    m.unregister();
    m.unregister();  // idempotent
    steps(2);
    EXPECT_EQ(calls, 3);
    EXPECT_FALSE(m.active());
}

// [check.H105]
TEST(IOMonitor, RegisteringASecondFdWhileActiveThrows) {
    Pipe p1;
    Pipe p2;
    kaa::IOMonitor m([] {});
    m.register_fd(p1.r);
    try {
        m.register_fd(p2.r);
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "Existing file descriptor already registered with this IOMonitor.");
    }
    EXPECT_THROW(m.register_fd(p1.r, kaa::IO_WRITE), std::invalid_argument);
    EXPECT_NO_THROW(m.register_fd(p1.r, kaa::IO_READ));  // the same pair: no-op
    EXPECT_EQ(m.fd(), p1.r);
    m.unregister();
    EXPECT_NO_THROW(m.register_fd(p2.r));  // allowed once unregistered
    EXPECT_EQ(m.fd(), p2.r);
}

// [io.monitor.3]
TEST(IOMonitor, RejectsBadArguments) {
    Pipe p;
    kaa::IOMonitor m([] {});
    EXPECT_THROW(m.register_fd(-1), std::invalid_argument);
    EXPECT_THROW(m.register_fd(p.r, static_cast<kaa::IOCondition>(3)), std::invalid_argument);
    // epoll refuses regular files.
    int file = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(file, 0);
    EXPECT_THROW(m.register_fd(file), std::system_error);
    ::close(file);
    EXPECT_FALSE(m.active());
    // A second monitor on the same fd and condition is refused (no silent replacement).
    kaa::IOMonitor a([] {});
    kaa::IOMonitor b([] {});
    a.register_fd(p.r);
    EXPECT_THROW(b.register_fd(p.r), std::invalid_argument);
    EXPECT_FALSE(b.active());
    EXPECT_NO_THROW(b.register_fd(p.r, kaa::IO_WRITE));  // the other direction is free
}

// [io.monitor]
TEST(IOMonitor, WatchesWritability) {
    Pipe p;
    int calls = 0;
    kaa::IOMonitor m([&] {
        ++calls;
        return false;
    });
    m.register_fd(p.w, kaa::IO_WRITE);
    EXPECT_EQ(m.condition(), kaa::IO_WRITE);
    kaa::main::loop([&] { return calls == 0; }, 5s);  // an empty pipe is writable at once
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(m.active());
}

// [io.monitor.4] (RAII)
TEST(IOMonitor, DestructorUnregisters) {
    Ticker ticker;
    Pipe p;
    int calls = 0;
    {
        kaa::IOMonitor m([&] { ++calls; });
        m.register_fd(p.r);
    }
    p.put();
    steps(3);
    EXPECT_EQ(calls, 0);
    // The fd is free for another monitor.
    kaa::IOMonitor again([&] {
        ++calls;
        p.drain();
    });
    EXPECT_NO_THROW(again.register_fd(p.r));
    steps(1);
    EXPECT_EQ(calls, 1);
}

// [io.monitor.4]: moving keeps the registration, assigning over a monitor unregisters it
TEST(IOMonitor, MoveKeepsTheRegistration) {
    Ticker ticker;
    Pipe p1;
    Pipe p2;
    int first = 0;
    int second = 0;
    kaa::IOMonitor a([&] {
        ++first;
        p1.drain();
    });
    a.register_fd(p1.r);
    kaa::IOMonitor b(std::move(a));
    EXPECT_TRUE(b.active());
    kaa::IOMonitor c([&] {
        ++second;
        p2.drain();
    });
    c.register_fd(p2.r);
    c = std::move(b);  // c's own registration (p2) ends
    p1.put();
    p2.put();
    steps(2);
    EXPECT_EQ(first, 1);
    EXPECT_EQ(second, 0);
    EXPECT_TRUE(c.active());
}

// [loop.phase.3], collect-dispatch-recheck: a callback may destroy its own monitor
TEST(IOMonitor, CallbackMayDestroyItsOwnMonitor) {
    Ticker ticker;
    Pipe p;
    int calls = 0;
    auto m = std::make_unique<std::optional<kaa::IOMonitor>>();
    m->emplace([&] {
        ++calls;
        m->reset();
    });
    (*m)->register_fd(p.r);
    p.put();
    steps(3);
    EXPECT_EQ(calls, 1);
}

// [loop.phase.3]: a watcher unregistered by an earlier callback of the same batch gets no call
TEST(IOMonitor, MonitorUnregisteredByAnEarlierCallbackOfTheBatchIsNotCalled) {
    Ticker ticker;
    Pipe p1;
    Pipe p2;
    int calls1 = 0;
    int calls2 = 0;
    std::optional<kaa::IOMonitor> m1;
    std::optional<kaa::IOMonitor> m2;
    m1.emplace([&] {
        ++calls1;
        m2->unregister();
        return false;
    });
    m2.emplace([&] {
        ++calls2;
        m1->unregister();
        return false;
    });
    m1->register_fd(p1.r);
    m2->register_fd(p2.r);
    p1.put();
    p2.put();  // both ready in the same epoll_wait
    steps(3);
    EXPECT_EQ(calls1 + calls2, 1);
}

// src/loop/fd_table.cpp: an fd closed and reused within a batch does not get the old fd's event
TEST(IOMonitor, ReusedFdDoesNotReceiveTheStaleEventOfItsPredecessor) {
    Ticker ticker;
    Pipe p1;
    Pipe p2;
    int calls1 = 0;
    int calls2 = 0;
    int calls_new = 0;
    std::optional<kaa::IOMonitor> m1;
    std::optional<kaa::IOMonitor> m2;
    kaa::IOMonitor fresh([&] { ++calls_new; });
    Pipe replacement;  // empty: never readable unless written to
    // Whichever runs first closes the other pipe's read end, puts an empty pipe's read end on
    // that same fd number, and watches it: the other's stale event must not reach it.
    auto replace = [&](std::optional<kaa::IOMonitor>& other, const Pipe& other_pipe) {
        other.reset();
        ASSERT_EQ(::dup2(replacement.r, other_pipe.r), other_pipe.r);
        fresh.register_fd(other_pipe.r);
    };
    m1.emplace([&] {
        ++calls1;
        p1.drain();
        if (calls2 == 0) replace(m2, p2);
    });
    m2.emplace([&] {
        ++calls2;
        p2.drain();
        if (calls1 == 0) replace(m1, p1);
    });
    m1->register_fd(p1.r);
    m2->register_fd(p2.r);
    p1.put();
    p2.put();
    kaa::main::step();
    EXPECT_EQ(calls1 + calls2, 1);
    EXPECT_EQ(calls_new, 0);  // the stale event was dropped (generation check)
    replacement.put("y");
    steps(1);
    EXPECT_GE(calls_new, 1);  // and the new registration works
    fresh.unregister();
}

// [io.monitor.2]: an exception from a callback propagates; the monitor stays registered
TEST(IOMonitor, ExceptionFromTheCallbackPropagatesAndTheMonitorStays) {
    Pipe p;
    int calls = 0;
    kaa::IOMonitor m([&] {
        if (++calls == 1) throw std::runtime_error("io failed");
        p.drain();
    });
    m.register_fd(p.r);
    p.put();
    EXPECT_THROW(kaa::main::step(), std::runtime_error);
    EXPECT_TRUE(m.active());
    kaa::main::step();  // still readable: called again
    EXPECT_EQ(calls, 2);
}

// [io.monitor.5]: from another thread, register_fd and unregister are posted to the loop
TEST(IOMonitor, RegisterFromAnotherThreadIsPostedToTheLoop) {
    Pipe p;
    std::atomic<int> calls{0};
    std::thread::id called_on;
    kaa::IOMonitor m([&] {
        called_on = std::this_thread::get_id();
        ++calls;
        p.drain();
    });
    std::thread th([&] {
        m.register_fd(p.r);
        p.put();
    });
    th.join();
    kaa::main::loop([&] { return calls == 0; }, 5s);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(called_on, std::this_thread::get_id());
    EXPECT_TRUE(m.active());
    std::thread th2([&] { m.unregister(); });
    th2.join();
    kaa::main::loop([&] { return m.active(); }, 5s);
    EXPECT_FALSE(m.active());
}

// [io.monitor.5]: a failure of a posted registration is reported, not lost
TEST(IOMonitor, FailedRegistrationFromAnotherThreadIsReported) {
    kaa::test::ReportCapture capture;
    Pipe p1;
    Pipe p2;
    kaa::IOMonitor m([] {});
    m.register_fd(p1.r);
    std::thread th([&] { m.register_fd(p2.r); });
    th.join();
    kaa::main::loop([&] { return capture.count() == 0; }, 5s);
    ASSERT_EQ(capture.count(), 1u);
    EXPECT_NE(capture.messages()[0].find("Existing file descriptor"), std::string::npos);
    EXPECT_EQ(m.fd(), p1.r);
}

// [io.monitor.4]
TEST(WeakIOMonitor, UnregistersWithoutACallOnceItsOwnerDied) {
    Ticker ticker;
    Pipe p;
    auto owner = std::make_shared<Owner>();
    owner->pipe = &p;
    kaa::WeakIOMonitor m(std::weak_ptr<Owner>(owner), &Owner::on_readable);
    m.register_fd(p.r);
    p.put();
    steps(1);
    EXPECT_EQ(owner->calls, 1);
    owner.reset();
    EXPECT_FALSE(m.active());
    p.put();
    steps(2);  // no call (the owner is gone), and unregistered
    EXPECT_FALSE(m.active());
}

// [io.monitor.4]
TEST(WeakIOMonitor, CallsAPlainFunctionWhileTheOwnerLives) {
    Ticker ticker;
    Pipe p;
    auto owner = std::make_shared<int>(0);
    int calls = 0;
    kaa::WeakIOMonitor m(
        std::weak_ptr<int>(owner),
        [&](int add) {
            calls += add;
            p.drain();
        },
        5);
    m.register_fd(p.r);
    p.put();
    steps(1);
    EXPECT_EQ(calls, 5);
    EXPECT_TRUE(m.active());
}

// examples/io.cpp ends by itself and counts messages, not reads: its last two messages are
// written in one timer tick and arrive in one read. A watchdog stops the loop if it hangs.
TEST(IOMonitor, TheIoExampleCountsMessagesNotReadsAndEnds) {
    bool hung = false;
    kaa::OneShotTimer watchdog([&] {
        hung = true;
        kaa::main::stop();
    });
    watchdog.start(10s);
    std::ostringstream out;
    EXPECT_EQ(example::run_io(out), 0);
    watchdog.stop();
    EXPECT_FALSE(hung);
    EXPECT_EQ(out.str(), "message: 'message 1'\n"
                         "message: 'message 2'\n"
                         "message: 'message 3'\n"
                         "monitor active after the third message: false\n");
}

// [loop.phase.1]: one iteration fires due timers, then resumes the coroutines queued by
// NotFinished (FIFO), then dispatches ready fds, then runs posted work.
TEST(LoopPhases, NotFinishedCoroutinesResumeAfterTimersAndBeforeIO) {
    Pipe p;
    std::vector<std::string> order;
    kaa::IOMonitor m([&] { order.push_back("io:" + p.drain()); });
    m.register_fd(p.r);
    p.put("x");
    auto yielder = [](std::vector<std::string>* order, const char* name) -> kaa::Coroutine<> {
        co_await kaa::NotFinished;
        order->push_back(name);
    };
    auto c1 = yielder(&order, "coroutine 1");
    auto c2 = yielder(&order, "coroutine 2");
    kaa::OneShotTimer t([&] { order.push_back("timer"); });
    t.start(0s);
    kaa::main::post([&] { order.push_back("posted"); });
    kaa::main::step();
    EXPECT_EQ(order,
              (std::vector<std::string>{"timer", "coroutine 1", "coroutine 2", "io:x", "posted"}));
    EXPECT_TRUE(c1.finished());
    EXPECT_TRUE(c2.finished());
}
