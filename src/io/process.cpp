// Process: spawning (posix_spawnp with CLOEXEC pipes), reaping through the loop's child
// watch ([loop.child]), the stop() escalation, merged reads (Q16) and the shutdown kill.
// docs/semantics.md [io.process].
//
// The state lives in a ProcessCore shared by the Process object and the child watch's callback,
// so that a child outlives its Process object until it was reaped (kaa's global supervisor).
// Every function that emits or finishes first holds the core (`keep`): a listener may destroy
// the Process.
//
// Threads: loop thread only.

#include "main_internal.hpp"

#include <kaa/detail/loop.hpp>
#include <kaa/detail/syscalls.hpp>
#include <kaa/process.hpp>
#include <kaa/timer.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <unordered_set>
#include <utility>

extern char** environ;

namespace kaa {

namespace detail {

struct ProcessCore : std::enable_shared_from_this<ProcessCore> {
    using State = Process::State;

    std::vector<std::string> argv;
    ProcessOptions options;
    State state = State::stopped;
    pid_t pid = 0;
    std::optional<int> code;                  ///< exit code of the reaped child
    InProgress<int> exit_ip;                  ///< start()'s (the next start()'s before it)
    std::optional<InProgress<void>> stop_ip;  ///< the running stop()'s InProgress
    bool exited = false;                      ///< the current child was reaped
    bool finished_emitted = false;            ///< finished_signal() was emitted for it
    std::chrono::milliseconds grace{};        ///< of the running stop()
    int stop_step = 0;                        ///< 1: after the command, 2: TERM, 3: KILL
    std::optional<OneShotTimer> stop_timer;   ///< the next stop() step

    IOChannel in;
    IOChannel out;
    IOChannel err;

    /// Merged signals; their changed callbacks connect the forwarders while they have callbacks.
    Signal<const std::string&> read_sig{[this](auto&, SignalAction) { update_forwarding(); }};
    Signal<const std::string&> readline_sig{[this](auto&, SignalAction) { update_forwarding(); }};
    Signal<int> exited_sig;
    Signal<int> finished_sig;
    Connection fwd_read_out, fwd_read_err, fwd_line_out, fwd_line_err;

    ProcessCore(std::vector<std::string> a, ProcessOptions o)
        : argv(std::move(a)), options(std::move(o)) {
        out.closed_signal().connect([this](bool) { check_finished(); });
        err.closed_signal().connect([this](bool) { check_finished(); });
    }
    ~ProcessCore() {
        if (stop_timer) stop_timer->stop();
    }

    void update_forwarding();
    InProgress<int> start();
    void on_status(int status);
    void check_finished();
    InProgress<void> stop(std::chrono::milliseconds g);
    void stop_step_due();
    void arm_stop_timer(std::chrono::milliseconds d);
    InProgress<std::string> race(InProgress<std::string> (IOChannel::*op)());
    InProgress<std::pair<std::string, std::string>> communicate(std::string input);
};

namespace {

// Children started and not reaped yet: killed and reaped at loop shutdown ([io.process.9]).
std::unordered_set<ProcessCore*>& running_children() {
    static auto* set = new std::unordered_set<ProcessCore*>();  // outlives static destruction
    return *set;
}

void kill_children_at_shutdown() {
    // Snapshot first: on_status() removes the core and runs listeners.
    std::vector<std::shared_ptr<ProcessCore>> cores;
    for (ProcessCore* c : running_children()) cores.push_back(c->shared_from_this());
    for (auto& c : cores) {
        if (c->exited || c->pid <= 0) continue;
        unwatch_child(c->pid);
        ::kill(c->pid, SIGKILL);
        int status = 0;
        pid_t r;
        do {
            r = detail::sys().waitpid(c->pid, &status, 0);
        } while (r < 0 && errno == EINTR);
        c->on_status(r == c->pid ? status : kChildLost);
    }
}

void ensure_shutdown_hook() {
    static bool added = false;
    if (added) return;
    added = true;
    add_shutdown_hook(&kill_children_at_shutdown);
}

// Signals the child starts with at their default disposition (an ignored one would be
// inherited through exec: IOChannel ignores SIGPIPE in this process, for example).
void default_signals(sigset_t* set) {
    sigemptyset(set);
    for (int sig : {SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2,
                    SIGTSTP, SIGTTIN, SIGTTOU, SIGXFSZ})
        sigaddset(set, sig);
}

struct Pipe {
    int fd[2] = {-1, -1};
    Pipe() {
        if (::pipe2(fd, O_CLOEXEC) != 0)
            throw std::system_error(errno, std::generic_category(), "kaa: pipe2");
    }
    ~Pipe() {
        for (int f : fd)
            if (f >= 0) ::close(f);
    }
    int take(int i) { return std::exchange(fd[i], -1); }
};

int exit_code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return -WTERMSIG(status);
    return status;
}

void ignore_failure(InProgress<std::size_t>& ip) {
    ip.connect_exception([](std::exception_ptr) { return false; });
}

void abort_quietly(InProgress<std::string>& ip) {
    if (ip.finished()) return;
    try {
        ip.abort();
    } catch (...) {  // not abortable any more: its result is simply not taken
    }
}

}  // namespace

void ProcessCore::update_forwarding() {
    auto sync = [](bool want, Connection& c, Signal<const std::string&>& from,
                   Signal<const std::string&>& to) {
        if (want && !c.connected()) {
            c = from.connect([&to](const std::string& data) { to.emit(data); });
        } else if (!want && c.connected()) {
            c.disconnect();
        }
    };
    bool want_read = read_sig.count() > 0;
    bool want_line = readline_sig.count() > 0;
    sync(want_read, fwd_read_out, out.read_signal(), read_sig);
    sync(want_read, fwd_read_err, err.read_signal(), read_sig);
    sync(want_line, fwd_line_out, out.readline_signal(), readline_sig);
    sync(want_line, fwd_line_err, err.readline_signal(), readline_sig);
}

InProgress<int> ProcessCore::start() {
    if (state != State::stopped)
        throw std::system_error(EEXIST, std::generic_category(),
                                "Child process has already been started");
    Pipe in_p, out_p, err_p;

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    struct Cleanup {
        posix_spawn_file_actions_t* fa;
        posix_spawnattr_t* attr;
        ~Cleanup() {
            posix_spawn_file_actions_destroy(fa);
            posix_spawnattr_destroy(attr);
        }
    } cleanup{&fa, &attr};
    posix_spawn_file_actions_adddup2(&fa, in_p.fd[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out_p.fd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_p.fd[1], 2);
    if (options.working_directory)
        posix_spawn_file_actions_addchdir_np(&fa, options.working_directory->c_str());
    sigset_t mask;
    sigemptyset(&mask);
    sigset_t defaults;
    default_signals(&defaults);
    posix_spawnattr_setsigmask(&attr, &mask);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_t child = 0;
    // glibc's posix_spawnp reports a failed exec (ENOENT, EACCES, …) as its result and reaps
    // the failed child itself.
    int rc = ::posix_spawnp(&child, argv[0].c_str(), &fa, &attr, args.data(), environ);
    if (rc != 0) {
        std::string what = "kaa: cannot start '" + argv[0] + "'";
        if (options.working_directory) what += " in '" + *options.working_directory + "'";
        throw std::system_error(rc, std::generic_category(), what);
    }

    ::close(in_p.take(0));
    ::close(out_p.take(1));
    ::close(err_p.take(1));
    in.wrap(in_p.take(1), {.mode = IO_WRITE});
    out.wrap(out_p.take(0), {.mode = IO_READ, .delimiter = options.delimiter});
    err.wrap(err_p.take(0), {.mode = IO_READ, .delimiter = options.delimiter});

    pid = child;
    state = State::running;
    code.reset();
    exited = false;
    finished_emitted = false;
    stop_ip.reset();
    stop_step = 0;
    if (exit_ip.finished()) exit_ip = InProgress<int>();  // a restart
    running_children().insert(this);
    ensure_shutdown_hook();
    watch_child(pid, [self = shared_from_this()](int status) { self->on_status(status); });
    return exit_ip;
}

void ProcessCore::on_status(int status) {
    auto keep = shared_from_this();
    running_children().erase(this);
    if (stop_timer) stop_timer->stop();
    exited = true;
    state = State::stopped;
    // Stdin is of no use any more; a pending write fails ("Channel closed prematurely").
    in.close(true);
    auto ip = exit_ip;
    auto stop = std::exchange(stop_ip, std::nullopt);
    if (status == kChildLost) {
        auto e = std::make_exception_ptr(std::runtime_error(
            "kaa: child " + std::to_string(pid) + " was reaped elsewhere; its exit code is lost"));
        if (!ip.finished()) ip.throw_exception(e);
        if (stop && !stop->finished()) stop->throw_exception(e);
        return;
    }
    code = exit_code_of(status);
    exited_sig.emit(*code);
    if (!ip.finished()) ip.finish(*code);
    if (stop && !stop->finished()) stop->finish();
    check_finished();
}

void ProcessCore::check_finished() {
    if (!exited || finished_emitted || !code || out.alive() || err.alive()) return;
    auto keep = shared_from_this();
    finished_emitted = true;
    finished_sig.emit(*code);
}

InProgress<void> ProcessCore::stop(std::chrono::milliseconds g) {
    if (state == State::stopped) {
        InProgress<void> done;
        done.finish();
        return done;
    }
    if (stop_ip) return *stop_ip;
    stop_ip = InProgress<void>();
    auto ip = *stop_ip;  // the escalation below may reap nothing yet, but keep a handle
    grace = g;
    if (options.stop_command && in.alive()) {
        state = State::stopping;
        stop_step = 1;
        try {
            auto w = in.write(*options.stop_command);
            ignore_failure(w);
        } catch (const std::exception&) {  // stdin refuses it: go on with SIGTERM
            stop_step_due();
            return ip;
        }
        arm_stop_timer(grace);
    } else {
        stop_step = 1;
        stop_step_due();
    }
    return ip;
}

void ProcessCore::arm_stop_timer(std::chrono::milliseconds d) {
    if (!stop_timer) stop_timer.emplace([this] { stop_step_due(); });
    stop_timer->start(d);
}

// The next step of the escalation: SIGTERM, SIGKILL, then hung.
void ProcessCore::stop_step_due() {
    if (exited) return;
    auto keep = shared_from_this();
    if (stop_step == 1) {
        state = State::dying;
        stop_step = 2;
        ::kill(pid, SIGTERM);
        arm_stop_timer(grace);
    } else if (stop_step == 2) {
        stop_step = 3;
        ::kill(pid, SIGKILL);
        arm_stop_timer(2 * grace);
    } else {
        state = State::hung;
        auto e = std::make_exception_ptr(
            std::runtime_error("kaa: process " + std::to_string(pid) + " did not die"));
        auto stop = std::exchange(stop_ip, std::nullopt);
        if (!exit_ip.finished()) exit_ip.throw_exception(e);
        if (stop && !stop->finished()) stop->throw_exception(e);
    }
}

// read()/readline() over the channels that can still give data (Q16).
InProgress<std::string> ProcessCore::race(InProgress<std::string> (IOChannel::*op)()) {
    std::vector<InProgress<std::string>> legs;
    for (IOChannel* c : {&out, &err}) {
        if (!c->readable()) continue;  // closed, or at EOF with nothing queued
        InProgress<std::string> leg = (c->*op)();
        if (leg.finished() && !leg.failed()) {
            if (leg.result().empty()) continue;  // EOF
            for (auto& l : legs) abort_quietly(l);
            return leg;
        }
        if (leg.finished()) {  // failed at once
            for (auto& l : legs) abort_quietly(l);
            return leg;
        }
        legs.push_back(std::move(leg));
    }
    if (legs.empty()) {
        InProgress<std::string> eof;
        eof.finish(std::string());
        return eof;
    }
    if (legs.size() == 1) return legs.front();

    struct Race {
        InProgress<std::string> result{InProgressOptions{.abortable = true}};
        std::vector<InProgress<std::string>> legs;
        bool done = false;
        std::size_t open = 0;
        // Ends the race: withdraws the legs still pending, and drops them (their listeners
        // hold this Race: a cycle until every leg finished).
        void settle() {
            done = true;
            auto pending = std::move(legs);
            legs.clear();
            for (auto& l : pending) abort_quietly(l);
        }
    };
    auto race = std::make_shared<Race>();
    race->legs = legs;
    race->open = legs.size();
    std::weak_ptr<Race> weak = race;
    for (auto& leg : legs) {
        leg.connect_both(
            [race](const std::string& data) {
                if (race->done) return;
                if (data.empty()) {  // EOF on this one: wait for the other
                    if (--race->open == 0) {
                        race->settle();
                        race->result.finish(std::string());
                    }
                    return;
                }
                race->settle();
                race->result.finish(data);
            },
            [race](std::exception_ptr e) {
                if (race->done) return;
                race->settle();
                race->result.throw_exception(e);
            });
    }
    race->result.connect_abort([weak](const InProgressAborted&) {
        if (auto r = weak.lock()) {
            if (!r->done) r->settle();
        }
    });
    return race->result;
}

InProgress<std::pair<std::string, std::string>> ProcessCore::communicate(std::string input) {
    if (pid == 0) throw std::logic_error("kaa: Process::communicate() before start()");
    struct Collect {
        InProgress<std::pair<std::string, std::string>> result{
            InProgressOptions{.abortable = true}};
        std::string text[2];
        bool open[2] = {false, false};
        bool done = false;
        std::vector<Connection> connections;
        void end() {
            done = true;
            auto cs = std::move(connections);  // the lambdas hold this Collect
            connections.clear();
            for (auto& c : cs) c.disconnect();
        }
        void check() {
            if (done || open[0] || open[1]) return;
            end();
            result.finish(std::make_pair(std::move(text[0]), std::move(text[1])));
        }
    };
    auto keep = shared_from_this();
    if (!input.empty()) {
        auto w = in.write(std::move(input));  // throws: nothing was started
        ignore_failure(w);
    }
    if (in.alive()) in.close(false);
    auto c = std::make_shared<Collect>();
    IOChannel* channels[2] = {&out, &err};
    for (int i = 0; i < 2; ++i) {
        IOChannel& ch = *channels[i];
        c->open[i] = ch.alive();
        if (!c->open[i] && ch.read_queue_used() == 0) continue;
        // Connecting delivers the data already queued at once.
        c->connections.push_back(
            ch.read_signal().connect([c, i](const std::string& data) { c->text[i] += data; }));
        if (!ch.alive()) c->open[i] = false;
        c->connections.push_back(ch.closed_signal().connect([c, i](bool) {
            c->open[i] = false;
            c->check();
        }));
    }
    std::weak_ptr<Collect> weak = c;
    c->result.connect_abort([weak](const InProgressAborted&) {
        if (auto p = weak.lock()) p->end();
    });
    auto result = c->result;
    c->check();
    return result;
}

}  // namespace detail

// ---------------------------------------------------------------- Process

Process::Process(std::vector<std::string> argv, ProcessOptions options) {
    if (argv.empty()) throw std::invalid_argument("kaa: Process needs a program (argv is empty)");
    core_ = std::make_shared<detail::ProcessCore>(std::move(argv), std::move(options));
}

Process::Process(ShellCommand command, ProcessOptions options)
    : Process(std::vector<std::string>{"/bin/sh", "-c", std::move(command.command_line)},
              std::move(options)) {}

Process::~Process() {
    auto& c = *core_;
    c.read_sig.set_changed_callback({});
    c.readline_sig.set_changed_callback({});
    c.read_sig.disconnect_all();
    c.readline_sig.disconnect_all();
    c.exited_sig.disconnect_all();
    c.finished_sig.disconnect_all();
    // The child keeps running (if it does), without its pipes; the core stays with the child
    // watch until it was reaped, or is killed at loop shutdown.
    c.in.close(true);
    c.out.close(true);
    c.err.close(true);
}

InProgress<int> Process::start() {
    detail::assert_loop_thread("Process::start()");
    return core_->start();
}

InProgress<int> Process::wait() const { return core_->exit_ip; }

InProgress<void> Process::stop(std::optional<std::chrono::milliseconds> grace) {
    detail::assert_loop_thread("Process::stop()");
    return core_->stop(grace.value_or(core_->options.stop_grace));
}

InProgress<std::size_t> Process::write(std::string data) {
    return core_->in.write(std::move(data));
}

InProgress<void> Process::close_stdin() { return core_->in.close(false); }

InProgress<std::pair<std::string, std::string>> Process::communicate(std::string input) {
    return core_->communicate(std::move(input));
}

InProgress<std::string> Process::read() { return core_->race(&IOChannel::read); }

InProgress<std::string> Process::readline() { return core_->race(&IOChannel::readline); }

Signal<const std::string&>& Process::read_signal() { return core_->read_sig; }
Signal<const std::string&>& Process::readline_signal() { return core_->readline_sig; }
Signal<int>& Process::exited_signal() { return core_->exited_sig; }
Signal<int>& Process::finished_signal() { return core_->finished_sig; }

IOChannel& Process::stdin_channel() { return core_->in; }
IOChannel& Process::stdout_channel() { return core_->out; }
IOChannel& Process::stderr_channel() { return core_->err; }

Process::State Process::state() const { return core_->state; }
bool Process::running() const { return core_->state != State::stopped; }
pid_t Process::pid() const { return core_->pid; }
std::optional<int> Process::exit_code() const { return core_->code; }
const std::vector<std::string>& Process::argv() const { return core_->argv; }

}  // namespace kaa
