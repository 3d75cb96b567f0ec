#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// Process: a child process with its stdin, stdout and stderr as IOChannels, kaa's
// process.Process (docs/semantics.md [io.process]).
//
//   kaa::Process p({"cat"});                       // argv, no shell
//   kaa::Process sh(kaa::ShellCommand{"exit 3"});  // /bin/sh -c "exit 3"
//   kaa::InProgress<int> code = p.start();         // finishes with the exit code
//   p.write("hello\n");
//   std::string line = co_await p.readline();      // stdout or stderr, whichever has a line
//   p.close_stdin();
//   co_await p.stop();                             // SIGTERM, then SIGKILL after the grace
//
// The exit code is WEXITSTATUS for a child that exited, and -N for a child killed by signal N
// (as Python's subprocess). exited_signal() is emitted once the child was reaped (through the
// loop's SIGCHLD handling, [loop.child]); finished_signal() once it exited *and* stdout and
// stderr are closed (EOF seen). Output is read with kaa's flow control ([io.channel]): only
// while somebody is interested (a pending read()/readline(), or callbacks on the read signals
// of the process or of its channels), so EOF — and finished_signal() — needs a reader.
//
// Lifetime: neither copied nor moved. Destroying a Process whose child still runs closes its
// pipes and leaves the child running; the loop still reaps it (no zombie) and kills it at loop
// shutdown. At loop shutdown every child still running is killed with SIGKILL and reaped
// ([io.process.9]).
//
// Threads: main-loop thread only.

#include <kaa/inprogress.hpp>
#include <kaa/io_channel.hpp>
#include <kaa/signal.hpp>

#include <sys/types.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kaa {

namespace detail {
struct ProcessCore;
}  // namespace detail

/// A command line for /bin/sh -c (kaa's `shell=True`).
struct ShellCommand {
    std::string command_line;  ///< passed to /bin/sh -c as one argument
};

/// Options of a Process.
struct ProcessOptions {
    /// The readline() delimiter of stdout and stderr.
    Delimiter delimiter = Delimiter();
    /// Written to stdin first by stop(), if stdin is open (kaa's stop_command as a string).
    std::optional<std::string> stop_command = std::nullopt;
    /// How long stop() waits after each step (stop command, SIGTERM) before the next one
    /// (kaa: 3 s); after SIGKILL it waits twice as long.
    std::chrono::milliseconds stop_grace = std::chrono::seconds(3);
    /// The child's working directory; std::nullopt: the parent's.
    std::optional<std::string> working_directory = std::nullopt;
};

/// kaa's Process; see the file comment.
class Process {
public:
    /// kaa's process states.
    enum class State {
        stopped,   ///< not started, or exited and reaped
        running,   ///< started and not being stopped
        stopping,  ///< stop(): the stop command was written, waiting for the child to exit
        dying,     ///< stop(): SIGTERM or SIGKILL was sent
        hung,      ///< stop(): still alive after SIGKILL and its grace period
    };

    /// A process that runs `argv` (argv[0] is looked up in PATH). Throws std::invalid_argument
    /// if argv is empty. Nothing starts before start().
    explicit Process(std::vector<std::string> argv, ProcessOptions options = {});
    /// As above: `Process p({"cat"})` (a braced list is argv, never a ShellCommand).
    explicit Process(std::initializer_list<std::string> argv, ProcessOptions options = {})
        : Process(std::vector<std::string>(argv), std::move(options)) {}
    /// A process that runs `/bin/sh -c command_line`.
    explicit Process(ShellCommand command, ProcessOptions options = {});
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;
    /// See the file comment (Lifetime).
    ~Process();

    /// Starts the child with stdin, stdout and stderr connected to pipes (the channels), the
    /// other fds closed (CLOEXEC), default signal dispositions and an empty signal mask.
    /// Returns the InProgress of the exit code (also wait()), finished once the child was
    /// reaped, in a later loop iteration. Throws std::system_error(EEXIST) "Child process has
    /// already been started" while a child runs; std::system_error with the errno of
    /// posix_spawn — e.g. ENOENT "kaa: cannot start 'nosuchprogram'" (with " in '<dir>'" when
    /// a working directory is set) — if the program cannot be executed or the working
    /// directory entered (nothing was started then).
    InProgress<int> start();

    /// The InProgress of the exit code of the current (or last) child; before the first
    /// start(), the one that start() will return.
    InProgress<int> wait() const;

    /// Stops the child: writes the stop command to stdin (if one is set and stdin is open) and
    /// waits `grace` (default: the options' stop_grace); then SIGTERM and waits `grace`; then
    /// SIGKILL and waits 2×`grace`. The InProgress finishes once the child was reaped; if it
    /// is still alive after that, the state becomes hung and the InProgress (and wait()'s)
    /// fails with std::runtime_error "kaa: process <pid> did not die". Calling stop() again
    /// while stopping returns the same InProgress (kaa: POLICY_SINGLETON). Not running: a
    /// finished InProgress.
    InProgress<void> stop(std::optional<std::chrono::milliseconds> grace = std::nullopt);

    /// Queues `data` for the child's stdin (IOChannel::write). Throws std::system_error(EBADF)
    /// if stdin is not open (not started, closed, or the child exited and closed it).
    InProgress<std::size_t> write(std::string data);
    /// Closes stdin once the queued writes were written (the child sees EOF).
    InProgress<void> close_stdin();

    /// The next output from stdout or stderr, whichever comes first: data already queued in
    /// either channel at once; "" once both are at EOF. A channel that is closed (or at EOF)
    /// is skipped (Q16: kaa raised once one of them closed). The other channel's pending read
    /// is withdrawn when one delivers, so no data is lost. Abortable. Before start() (nothing
    /// can come) it is "" at once.
    InProgress<std::string> read();
    /// As read(), for the next line (with its delimiter; a partial last line at EOF). Throws
    /// std::runtime_error while callbacks are connected to readline_signal() (kaa).
    InProgress<std::string> readline();

    /// kaa's communicate(input): writes `input` to stdin (if not empty), closes stdin after
    /// it, and finishes with everything the child writes to stdout and to stderr, separately,
    /// once both are at EOF (data already queued in the channels included). Output is read
    /// while the input is written, so a child that answers as it reads cannot deadlock; each
    /// chunk is taken once (Q16: kaa's could duplicate output). Abortable (stops collecting).
    /// Throws std::logic_error before start(); what write() throws for input larger than the
    /// write queue (1 MiB by default).
    InProgress<std::pair<std::string, std::string>> communicate(std::string input = {});

    /// Every chunk read from stdout or stderr. While it has callbacks, both channels are read.
    Signal<const std::string&>& read_signal();
    /// Every line read from stdout or stderr. While it has callbacks, both channels are read.
    Signal<const std::string&>& readline_signal();
    /// Emitted with the exit code once the child was reaped.
    Signal<int>& exited_signal();
    /// Emitted with the exit code once the child exited and stdout and stderr are closed;
    /// always after exited_signal().
    Signal<int>& finished_signal();

    /// The child's stdin (write-only; disconnected before start()).
    IOChannel& stdin_channel();
    /// The child's stdout (read-only).
    IOChannel& stdout_channel();
    /// The child's stderr (read-only).
    IOChannel& stderr_channel();

    /// The state (see State).
    State state() const;
    /// A child was started and not reaped yet (state() is not stopped).
    bool running() const;
    /// The child's pid; 0 before start(). Kept after the child exited.
    pid_t pid() const;
    /// The exit code once the child was reaped; std::nullopt before.
    std::optional<int> exit_code() const;
    /// The argv the child runs (for a ShellCommand: `/bin/sh -c COMMAND`).
    const std::vector<std::string>& argv() const;

private:
    std::shared_ptr<detail::ProcessCore> core_;
};

/// kaa's `inprogress(process)`: the InProgress of the exit code, p.wait() ([ip.protocol]).
inline InProgress<int> inprogress(const Process& p) { return p.wait(); }

}  // namespace kaa

#pragma GCC visibility pop
