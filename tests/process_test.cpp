// Tests for kaa/process.hpp with real children (/bin/sh -c, cat, sleep): exit codes, the
// exited/finished order, stdin/stdout/stderr, stop() escalation, reads that skip closed
// channels, and no zombie left behind. [io.process], [check.I120].
//
// The loop is driven with main::loop(condition, timeout): the child's output and SIGCHLD wake
// it; nothing sleeps. The timeouts only bound a failing test.

#include <kaa/errors.hpp>
#include <kaa/main.hpp>
#include <kaa/process.hpp>
#include <kaa/timer.hpp>

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <kaa/detail/loop.hpp>

using namespace std::chrono_literals;

namespace {

// Runs the loop until `ip` finished (at most 10 s).
template <class T>
void wait_for(const kaa::InProgress<T>& ip) {
    kaa::main::loop([&] { return !ip.finished(); }, 10s);
    ASSERT_TRUE(ip.finished()) << "timed out";
}

// True if `pid` is no child of ours any more: it was reaped (waitpid fails with ECHILD).
bool reaped(pid_t pid) {
    int status = 0;
    return ::waitpid(pid, &status, WNOHANG) < 0 && errno == ECHILD;
}

}  // namespace

TEST(Process, StartFinishesWithTheExitCode) {
    kaa::Process p(kaa::ShellCommand{"exit 3"});
    EXPECT_EQ(p.state(), kaa::Process::State::stopped);
    auto code = p.start();
    EXPECT_TRUE(p.running());
    EXPECT_GT(p.pid(), 0);
    EXPECT_FALSE(code.finished()) << "reaped by the loop, never inside start()";
    wait_for(code);
    EXPECT_EQ(code.result(), 3);
    EXPECT_EQ(p.exit_code(), 3);
    EXPECT_EQ(p.state(), kaa::Process::State::stopped);
    EXPECT_TRUE(p.wait().finished());
    EXPECT_EQ(kaa::inprogress(p), code);
    EXPECT_TRUE(reaped(p.pid()));
}

// [check.I120]
TEST(Process, ExitedIsEmittedBeforeFinishedAndFinishedAfterStdoutAndStderrClosed_I120) {
    kaa::Process p(kaa::ShellCommand{"echo out; echo err >&2; exit 3"});
    std::vector<std::string> events;
    p.readline_signal().connect([&](const std::string& line) { events.push_back("line " + line); });
    p.exited_signal().connect(
        [&](int code) { events.push_back("exited " + std::to_string(code)); });
    p.finished_signal().connect([&](int code) {
        events.push_back("finished " + std::to_string(code));
        EXPECT_FALSE(p.stdout_channel().alive());
        EXPECT_FALSE(p.stderr_channel().alive());
    });
    auto code = p.start();
    kaa::main::loop([&] { return events.empty() || events.back().rfind("finished", 0) != 0; }, 10s);
    ASSERT_EQ(events.size(), 4u) << testing::PrintToString(events);
    EXPECT_EQ(events[3], "finished 3");
    // Both lines before finished; exited somewhere before finished.
    auto exited_at = std::find(events.begin(), events.end(), "exited 3");
    ASSERT_NE(exited_at, events.end());
    EXPECT_NE(std::find(events.begin(), events.end(), "line out\n"), events.end());
    EXPECT_NE(std::find(events.begin(), events.end(), "line err\n"), events.end());
    EXPECT_TRUE(code.finished());
    EXPECT_EQ(code.result(), 3);
    EXPECT_TRUE(reaped(p.pid()));
}

TEST(Process, CatEchoesStdin) {
    kaa::Process p({"cat"});
    auto code = p.start();
    auto written = p.write("hello\nworld\n");
    auto line = p.readline();
    wait_for(line);
    EXPECT_EQ(line.result(), "hello\n");
    EXPECT_TRUE(written.finished());
    auto second = p.readline();
    wait_for(second);
    EXPECT_EQ(second.result(), "world\n");
    p.close_stdin();
    auto eof = p.read();
    wait_for(eof);
    EXPECT_EQ(eof.result(), "") << "EOF on stdout and stderr";
    wait_for(code);
    EXPECT_EQ(code.result(), 0);
    EXPECT_TRUE(reaped(p.pid()));
}

TEST(Process, ReadSignalMergesStdoutAndStderr) {
    kaa::Process p(kaa::ShellCommand{"echo a; echo b >&2"});
    std::string all;
    p.read_signal().connect([&](const std::string& chunk) { all += chunk; });
    bool finished = false;
    p.finished_signal().connect([&](int) { finished = true; });
    p.start();
    kaa::main::loop([&] { return !finished; }, 10s);
    ASSERT_TRUE(finished);
    EXPECT_EQ(all.size(), 4u);
    EXPECT_NE(all.find("a\n"), std::string::npos);
    EXPECT_NE(all.find("b\n"), std::string::npos);
}

TEST(Process, AChildKilledByASignalExitsWithMinusTheSignalNumber) {
    kaa::Process p({"sleep", "10"});
    auto code = p.start();
    ::kill(p.pid(), SIGKILL);
    wait_for(code);
    EXPECT_EQ(code.result(), -SIGKILL);
    EXPECT_TRUE(reaped(p.pid()));
}

TEST(Process, AProgramThatDoesNotExistThrowsFromStart) {
    kaa::Process p({"/nonexistent/kaa-no-such-program"});
    try {
        p.start();
        FAIL() << "start() did not throw";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), ENOENT);
        EXPECT_NE(std::string(e.what()).find("cannot start '/nonexistent/kaa-no-such-program'"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_FALSE(p.running());
    EXPECT_EQ(p.pid(), 0);
    // No zombie of the failed spawn (glibc reaps it): peek at every child without reaping.
    siginfo_t info{};
    int r = ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT);
    EXPECT_TRUE((r == 0 && info.si_pid == 0) || (r < 0 && errno == ECHILD));
}

TEST(Process, StartWhileRunningThrowsEexist) {
    kaa::Process p({"cat"});
    auto code = p.start();
    try {
        p.start();
        FAIL() << "second start() did not throw";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), EEXIST);
    }
    p.close_stdin();
    wait_for(code);
    EXPECT_EQ(code.result(), 0);
}

TEST(Process, WriteBeforeStartThrows) {
    kaa::Process p({"cat"});
    EXPECT_THROW(p.write("x"), std::system_error);
}

TEST(Process, StopSendsSigtermFirst) {
    kaa::Process p({"sleep", "10"});
    auto code = p.start();
    auto stopped = p.stop(100ms);
    EXPECT_EQ(p.state(), kaa::Process::State::dying);
    wait_for(stopped);
    EXPECT_FALSE(stopped.failed());
    EXPECT_EQ(code.result(), -SIGTERM);
    EXPECT_TRUE(reaped(p.pid()));
}

TEST(Process, StopEscalatesToSigkillAfterTheGracePeriod) {
    // TERM stays ignored through exec, so only SIGKILL ends it.
    kaa::Process p(kaa::ShellCommand{"trap '' TERM; echo ready; exec sleep 10"});
    auto code = p.start();
    auto ready = p.readline();
    wait_for(ready);
    ASSERT_EQ(ready.result(), "ready\n");
    auto t0 = std::chrono::steady_clock::now();
    auto stopped = p.stop(100ms);
    EXPECT_EQ(p.stop(100ms), stopped) << "stop() while stopping gives the same InProgress";
    wait_for(stopped);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 100ms);
    EXPECT_FALSE(stopped.failed());
    EXPECT_EQ(code.result(), -SIGKILL);
    EXPECT_TRUE(reaped(p.pid()));
}

TEST(Process, StopWritesTheStopCommandFirst) {
    kaa::Process p(kaa::ShellCommand{"read line; echo \"got $line\"; exit 7"},
                   {.stop_command = "quit\n"});
    std::vector<std::string> lines;
    p.readline_signal().connect([&](const std::string& l) { lines.push_back(l); });
    auto code = p.start();
    auto stopped = p.stop(5s);  // the command ends it long before
    EXPECT_EQ(p.state(), kaa::Process::State::stopping);
    wait_for(stopped);
    EXPECT_EQ(code.result(), 7);
    kaa::main::loop([&] { return lines.empty(); }, 10s);
    EXPECT_EQ(lines, std::vector<std::string>{"got quit\n"});
}

TEST(Process, StopOnAStoppedProcessFinishesAtOnce) {
    kaa::Process p({"true"});
    EXPECT_TRUE(p.stop().finished());
}

// Q16: kaa raised once one of the two channels was closed.
TEST(Process, ReadAndReadlineSkipAClosedChannel) {
    kaa::Process p(kaa::ShellCommand{"exec 2>&-; echo one; echo two"});
    auto code = p.start();
    auto first = p.readline();
    wait_for(first);
    EXPECT_EQ(first.result(), "one\n");
    wait_for(code);
    auto second = p.readline();
    wait_for(second);
    EXPECT_EQ(second.result(), "two\n");
    auto eof = p.read();
    wait_for(eof);
    EXPECT_EQ(eof.result(), "");
    EXPECT_FALSE(p.stderr_channel().alive());
    auto again = p.readline();
    ASSERT_TRUE(again.finished()) << "nothing left to read: at once";
    EXPECT_EQ(again.result(), "");
}

TEST(Process, ReadlineThrowsWhileTheReadlineSignalHasCallbacks) {
    kaa::Process p({"cat"});
    auto code = p.start();
    auto c = p.readline_signal().connect([](const std::string&) {});
    EXPECT_THROW(p.readline(), std::runtime_error);
    c.disconnect();
    p.close_stdin();
    wait_for(code);
}

TEST(Process, AbortingAReadWithdrawsBothChannelReads) {
    kaa::Process p({"cat"});
    auto code = p.start();
    auto r = p.read();
    EXPECT_FALSE(r.finished());
    r.abort();
    EXPECT_TRUE(r.finished());
    EXPECT_FALSE(p.stdout_channel().watching_read());
    EXPECT_FALSE(p.stderr_channel().watching_read());
    p.write("x");
    auto next = p.read();
    wait_for(next);
    EXPECT_EQ(next.result(), "x") << "the aborted read took no data";
    p.close_stdin();
    wait_for(code);
}

TEST(Process, ADestroyedProcessIsStillReaped) {
    pid_t pid = 0;
    std::size_t before = kaa::detail::watched_children();
    {
        kaa::Process p({"cat"});  // ends at EOF: destroying the Process closes its stdin
        p.start();
        pid = p.pid();
        EXPECT_EQ(kaa::detail::watched_children(), before + 1);
    }
    kaa::main::loop([&] { return kaa::detail::watched_children() > before; }, 10s);
    EXPECT_EQ(kaa::detail::watched_children(), before);
    EXPECT_TRUE(reaped(pid));
}

TEST(Process, LoopShutdownKillsAndReapsRunningChildren) {
    kaa::Process p({"sleep", "10"});
    auto code = p.start();
    kaa::OneShotTimer stopper([] { kaa::main::stop(); });
    stopper.start(0ns);
    kaa::main::run();
    ASSERT_TRUE(code.finished());
    EXPECT_EQ(code.result(), -SIGKILL);
    EXPECT_TRUE(reaped(p.pid()));
}

TEST(Process, CanBeStartedAgainAfterItExited) {
    kaa::Process p(kaa::ShellCommand{"exit 1"});
    auto first = p.start();
    wait_for(first);
    auto second = p.start();
    EXPECT_NE(first, second);
    wait_for(second);
    EXPECT_EQ(second.result(), 1);
    EXPECT_TRUE(reaped(p.pid()));
}

TEST(Process, CommunicateGivesStdoutAndStderrSeparately) {
    kaa::Process p(kaa::ShellCommand{"cat; echo err >&2"});
    auto code = p.start();
    auto both = p.communicate("abc\n");
    wait_for(both);
    EXPECT_EQ(both.result().first, "abc\n");
    EXPECT_EQ(both.result().second, "err\n");
    wait_for(code);
    EXPECT_EQ(code.result(), 0);
}

TEST(Process, CommunicateReadsWhileWritingSoLargeInputDoesNotDeadlock) {
    kaa::Process p({"cat"});
    p.start();
    std::string input(512 * 1024, 'x');  // far more than a pipe buffer, both ways
    for (std::size_t i = 0; i < input.size(); i += 97) input[i] = static_cast<char>('a' + i % 26);
    auto both = p.communicate(input);
    wait_for(both);
    EXPECT_EQ(both.result().first.size(), input.size());
    EXPECT_TRUE(both.result().first == input) << "every chunk exactly once, in order (Q16)";
    EXPECT_EQ(both.result().second, "");
}

TEST(Process, CommunicateAfterExitTakesTheQueuedOutput) {
    kaa::Process p(kaa::ShellCommand{"echo late"});
    auto code = p.start();
    wait_for(code);
    auto both = p.communicate();
    wait_for(both);
    EXPECT_EQ(both.result().first, "late\n");
}

TEST(Process, CommunicateBeforeStartThrows) {
    kaa::Process p({"cat"});
    EXPECT_THROW(p.communicate("x"), std::logic_error);
}

TEST(Process, RunsInTheWorkingDirectoryOfTheOptions) {
    kaa::Process p(kaa::ShellCommand{"pwd"}, {.working_directory = "/"});
    p.start();
    auto line = p.readline();
    wait_for(line);
    EXPECT_EQ(line.result(), "/\n");
    kaa::Process bad({"true"}, {.working_directory = "/nonexistent/kaa-dir"});
    try {
        bad.start();
        FAIL() << "start() did not throw";
    } catch (const std::system_error& e) {
        EXPECT_NE(std::string(e.what()).find("in '/nonexistent/kaa-dir'"), std::string::npos)
            << e.what();
    }
}
