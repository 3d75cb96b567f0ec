// Tests for the reactor's child reaping (detail::watch_child, src/loop/child_watch.cpp):
// [loop.child]. Real children (fork + _exit); the loop is driven with main::loop(condition,
// timeout): SIGCHLD wakes it, nothing sleeps. The timeout only bounds a failing test.

#include <kaa/detail/loop.hpp>
#include <kaa/main.hpp>

#include <gtest/gtest.h>

#include "loop_util.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>

using namespace std::chrono_literals;

namespace {

// A child that ends with _exit(code) at once.
pid_t exiting_child(int code) {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(code);
    return pid;
}

// A child that waits for a signal.
pid_t pausing_child() {
    pid_t pid = ::fork();
    if (pid == 0) {
        for (;;) ::pause();
    }
    return pid;
}

// Blocks until `pid` exited, without reaping it.
void wait_exited_not_reaped(pid_t pid) {
    siginfo_t info{};
    while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) != 0 &&
           errno == EINTR) {
    }
}

// True if `pid` is no child of ours any more (reaped): waitpid fails with ECHILD.
bool reaped(pid_t pid) {
    int status = 0;
    return ::waitpid(pid, &status, WNOHANG) < 0 && errno == ECHILD;
}

}  // namespace

TEST(ChildWatch, ReapsAnExitedChildAndPassesItsStatusOnTheLoopThread) {
    pid_t pid = exiting_child(3);
    ASSERT_GT(pid, 0);
    std::optional<int> status;
    bool on_loop_thread = false;
    kaa::detail::watch_child(pid, [&](int s) {
        status = s;
        on_loop_thread = kaa::main::is_mainthread();
    });
    EXPECT_FALSE(status) << "never inside watch_child()";
    kaa::main::loop([&] { return !status; }, 10s);
    ASSERT_TRUE(status);
    EXPECT_TRUE(on_loop_thread);
    EXPECT_TRUE(WIFEXITED(*status));
    EXPECT_EQ(WEXITSTATUS(*status), 3);
    EXPECT_TRUE(reaped(pid));
    EXPECT_EQ(kaa::detail::watched_children(), 0u);
}

TEST(ChildWatch, AChildThatExitedBeforeTheWatchIsReapedByTheNextIteration) {
    pid_t pid = exiting_child(5);
    ASSERT_GT(pid, 0);
    wait_exited_not_reaped(pid);  // its SIGCHLD (if a handler exists) is long gone
    std::optional<int> status;
    kaa::detail::watch_child(pid, [&](int s) { status = s; });
    kaa::main::step();
    ASSERT_TRUE(status);
    EXPECT_EQ(WEXITSTATUS(*status), 5);
    EXPECT_TRUE(reaped(pid));
}

TEST(ChildWatch, AChildKilledByASignalReportsTheSignal) {
    pid_t pid = pausing_child();
    ASSERT_GT(pid, 0);
    std::optional<int> status;
    kaa::detail::watch_child(pid, [&](int s) { status = s; });
    kaa::main::step();  // the forced poll: still running
    EXPECT_FALSE(status);
    ::kill(pid, SIGKILL);
    kaa::main::loop([&] { return !status; }, 10s);
    ASSERT_TRUE(status);
    EXPECT_TRUE(WIFSIGNALED(*status));
    EXPECT_EQ(WTERMSIG(*status), SIGKILL);
    EXPECT_TRUE(reaped(pid));
}

TEST(ChildWatch, UnwatchedChildrenAreLeftToTheirOwner) {
    pid_t other = exiting_child(7);  // somebody else's child: never waited for by kaa
    ASSERT_GT(other, 0);
    wait_exited_not_reaped(other);
    pid_t mine = exiting_child(0);
    ASSERT_GT(mine, 0);
    bool done = false;
    kaa::detail::watch_child(mine, [&](int) { done = true; });
    kaa::main::loop([&] { return !done; }, 10s);
    ASSERT_TRUE(done);
    int status = 0;
    ASSERT_EQ(::waitpid(other, &status, WNOHANG), other) << "kaa must not reap it";
    EXPECT_EQ(WEXITSTATUS(status), 7);
}

TEST(ChildWatch, UnwatchStopsTheWatchWithoutReaping) {
    pid_t pid = exiting_child(0);
    ASSERT_GT(pid, 0);
    bool called = false;
    kaa::detail::watch_child(pid, [&](int) { called = true; });
    EXPECT_TRUE(kaa::detail::unwatch_child(pid));
    EXPECT_FALSE(kaa::detail::unwatch_child(pid));
    wait_exited_not_reaped(pid);
    {
        kaa::test::Ticker ticker;  // the steps must not sleep: nothing else is due
        kaa::test::steps(3);
    }
    EXPECT_FALSE(called);
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
}

TEST(ChildWatch, AChildReapedElsewhereEndsTheWatchWithChildLost) {
    pid_t pid = exiting_child(0);
    ASSERT_GT(pid, 0);
    int ignored = 0;
    ASSERT_EQ(::waitpid(pid, &ignored, 0), pid);
    std::optional<int> status;
    kaa::detail::watch_child(pid, [&](int s) { status = s; });
    kaa::main::step();
    ASSERT_TRUE(status);
    EXPECT_EQ(*status, kaa::detail::kChildLost);
}

TEST(ChildWatch, ManyChildrenAreAllReaped) {
    constexpr int n = 20;
    int done = 0;
    pid_t pids[n];
    for (int i = 0; i < n; ++i) {
        pids[i] = exiting_child(i);
        ASSERT_GT(pids[i], 0);
        kaa::detail::watch_child(pids[i], [&done, i](int s) {
            EXPECT_EQ(WEXITSTATUS(s), i);
            ++done;
        });
    }
    kaa::main::loop([&] { return done < n; }, 10s);
    EXPECT_EQ(done, n);
    for (pid_t p : pids) EXPECT_TRUE(reaped(p));
}
