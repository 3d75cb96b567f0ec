// kaa::main: the run/stop/step/loop facade over the reactor (src/loop/), loop_while() (the
// loop every run(), loop() and wait() on the loop thread goes through), the run state and the
// shutdown sequence. The reactor knows nothing of these: it runs iterations when told to.
//
// Threads: loop thread only, except stop(), step(), post_task() and wakeup() (see main.hpp).

#include "loop/loop.hpp"
#include "main_internal.hpp"

#include <kaa/detail/loop.hpp>
#include <kaa/errors.hpp>
#include <kaa/main.hpp>

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <vector>

namespace kaa::main {

namespace {
using detail::Loop;

// The facade's run state (loop thread only, except `running`).
struct RunState {
    int depth = 0;                     ///< nesting of loop_while() calls
    int stepping = 0;                  ///< nesting of main::step() calls
    std::atomic<bool> running{false};  ///< a loop_while() is active (kaa's is_running()); atomic:
                                       ///< loop_while() on another thread reads it
    bool in_run = false;               ///< main::run() is active (its loop is the outermost)
    bool shutting_down = false;        ///< the shutdown sequence started
    bool stopped = false;              ///< a run() ended (false before the first one)
    bool stop_requested = false;       ///< stop() was called while a loop ran; cleared when the
                                       ///< outermost loop ends or a SystemExit is vetoed
    bool shutdown_deferred = false;    ///< stop() inside a bare step(): shut down when it returns
    std::vector<std::function<void()>> shutdown_hooks;  ///< run after shutdown_after (pools)
};

RunState& run_state() {
    static RunState* r = new RunState();  // never destroyed: used at exit
    return *r;
}

// Runs one part of the shutdown sequence; what escapes it (a BaseException from a listener, a
// changed callback throwing) is reported, so the remaining parts still run.
template <class F>
void shutdown_part(F&& part, const char* context) noexcept {
    try {
        part();
    } catch (...) {
        report_exception(std::current_exception(), context);
    }
}

// kaa's _stop() (docs/semantics.md [loop.shutdown.1]): shutdown, disconnect shutdown and step
// listeners, shutdown_after, thread pools (hooks), then unwind suspended coroutine frames.
void shutdown_sequence() noexcept {
    Loop& L = Loop::instance();
    RunState& R = run_state();
    R.shutting_down = true;
    R.running = false;
    R.shutdown_deferred = false;
    MainSignals& s = signals();
    shutdown_part([&] { s.shutdown.emit(); }, "Exception in main shutdown signal");
    shutdown_part([&] { s.shutdown.disconnect_all(); }, "Exception in main shutdown signal");
    shutdown_part([&] { s.step.disconnect_all(); }, "Exception in main shutdown signal");
    shutdown_part([&] { s.shutdown_after.emit(); }, "Exception in main shutdown_after signal");
    for (std::size_t i = 0; i < R.shutdown_hooks.size(); ++i) {
        shutdown_part([&] { R.shutdown_hooks[i](); }, "Exception in shutdown hook");
    }
    shutdown_part([&] { L.shutdown_active(); }, "Exception while unwinding coroutines");
    // [check.invariants] Every frame whose body is not on this stack has ended.
    KAA_INVARIANT(detail::frames_parked() == 0,
                  "a coroutine frame outlived loop shutdown without ending");
    R.stopped = true;
}

void at_process_exit() {
    // Never create the loop just to shut it down.
    if (!Loop::exists()) return;
    Loop& L = Loop::instance();
    // Only the loop thread may touch the frames (std::exit() on another thread leaves them).
    // std::exit() from a callback of a running loop unwinds them too (docs/semantics.md
    // [loop.shutdown.3]): the callback's stack never resumes, and unwinding a suspended frame
    // is what abort() from any callback does. A frame whose body is running (the one that
    // called exit(), or waits in a nested wait()) refuses the abort and is left as it is.
    if (!detail::on_loop_thread()) return;
    try {
        L.shutdown_active();
        signals().exit.emit();
    } catch (...) {
        report_exception(std::current_exception(), "Exception at exit");
    }
}

struct RegisterExit {
    RegisterExit() { std::atexit(at_process_exit); }
} register_exit;

}  // namespace

MainSignals& signals() {
    static MainSignals* s = new MainSignals();  // never destroyed: used at exit
    return *s;
}

void run() {
    Loop& L = Loop::instance();
    RunState& R = run_state();
    if (R.running) throw std::runtime_error("kaa: main loop is already running");
    R.shutting_down = false;
    R.stopped = false;
    R.stop_requested = false;
    R.shutdown_deferred = false;
    R.in_run = true;
    L.posix_signals().install();
    // Dispositions go back before the shutdown sequence: a second SIGINT/SIGTERM during a slow
    // shutdown gets the process's own behaviour (by default: terminate).
    auto leave = [&L, &R] {
        R.in_run = false;
        L.posix_signals().restore();
    };
    try {
        detail::loop_while([] { return true; }, std::nullopt);
    } catch (...) {
        leave();
        shutdown_sequence();
        throw;
    }
    leave();
    shutdown_sequence();
}

void stop() {
    if (!detail::on_loop_thread()) {
        detail::post_to_loop([] { stop(); });
        return;
    }
    Loop& L = Loop::instance();
    RunState& R = run_state();
    if (R.running) {
        R.stop_requested = true;
        L.wakeup();
    } else if (R.stepping > 0) {
        // Inside a callback of a bare step(): shutting down here could unwind the very frame
        // that called stop(). step() does it once the iteration is over.
        R.shutdown_deferred = true;
    } else if (!R.shutting_down) {
        shutdown_sequence();
    }
}

namespace {
/// step() and step_nowait(): one iteration, then `step`; a stop() inside it shuts down after.
void step_iteration(bool may_block) {
    if (!detail::on_loop_thread()) {
        wakeup();
        return;
    }
    Loop& L = Loop::instance();
    RunState& R = run_state();
    struct Stepping {
        RunState& R;
        explicit Stepping(RunState& r) : R(r) { ++R.stepping; }
        ~Stepping() { --R.stepping; }
    };
    {
        Stepping guard(R);
        if (!may_block) L.drain_wakeup_fd();  // the backend fd goes quiet ([loop.host.2])
        L.step_once(may_block);
        signals().step.emit();
    }
    if (R.stepping == 0 && R.shutdown_deferred && !R.running) {
        R.shutdown_deferred = false;
        if (!R.shutting_down) shutdown_sequence();
    }
}
}  // namespace

void step() { step_iteration(true); }

void step_nowait() { step_iteration(false); }

int backend_fd() { return detail::loop_backend_fd(); }

std::optional<std::chrono::nanoseconds> backend_timeout() {
    detail::assert_loop_thread("main::backend_timeout()");
    const detail::Duration d = detail::loop_backend_timeout();
    if (d < detail::Duration::zero()) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::nanoseconds>(d);
}

void loop(const std::function<bool()>& condition, std::optional<std::chrono::nanoseconds> timeout) {
    std::optional<detail::Duration> t;
    if (timeout) t = std::chrono::duration_cast<detail::Duration>(*timeout);
    detail::loop_while(condition, t);
}

bool is_running() { return run_state().running; }
bool is_shutting_down() { return run_state().shutting_down; }
bool is_stopped() { return run_state().stopped; }
bool is_mainthread() { return detail::on_loop_thread(); }
void wakeup() { detail::loop_wakeup(); }
void post_task(detail::Task task) { detail::post_to_loop(std::move(task)); }

}  // namespace kaa::main

namespace kaa::detail {

void add_shutdown_hook(std::function<void()> hook) {
    main::run_state().shutdown_hooks.push_back(std::move(hook));
}

}  // namespace kaa::detail

namespace kaa::detail {

void loop_while(const std::function<bool()>& cond, std::optional<Duration> timeout) {
    Loop& L = Loop::instance();
    main::RunState& R = main::run_state();
    if (!on_loop_thread() && R.running) {
        throw std::runtime_error("kaa: loop running in a different thread");
    }
    if (!R.running) Loop::set_loop_thread();

    struct TimeoutNode : TimerNode {
        bool passed = false;
    } deadline;
    deadline.fire = [](TimerNode* n) { static_cast<TimeoutNode*>(n)->passed = true; };
    if (timeout) L.arm(&deadline, L.refresh_now() + *timeout);

    ++R.depth;
    R.running = true;
    // run()'s own loop: the only one that a stop() or a SystemExit ends normally.
    const bool run_loop = R.depth == 1 && R.in_run;
    // Work deferred by run_bounded() below this frame must be able to run inside the nested
    // loop: the nesting depth starts afresh here and is restored afterwards.
    const int saved_inline_depth = inline_depth;
    inline_depth = 0;
    struct Leave {
        Loop& L;
        main::RunState& R;
        TimerNode* node;
        int saved_depth;
        ~Leave() {
            inline_depth = saved_depth;
            L.cancel(node);
            if (--R.depth == 0) {
                R.running = false;
                R.stop_requested = false;  // consumed: a later loop() must not see it
            }
        }
    } leave{L, R, &deadline, saved_inline_depth};

    for (;;) {
        if (R.stop_requested) {
            if (run_loop) break;
            // Unwind to run() (through the callback that nested this loop, e.g. a wait()),
            // or out of a loop()/wait() that is not inside run(): kaa raises SystemExit too.
            throw SystemExit("kaa: main::stop()");
        }
        if (deadline.passed || !cond()) break;
        try {
            L.step_once(true);
            main::signals().step.emit();
        } catch (...) {
            std::exception_ptr e = std::current_exception();
            const bool system_exit = holds<SystemExit>(e);
            if (!main::signals().exception.emit(e)) {
                // A listener returned false: swallowed, the loop goes on (a vetoed SystemExit
                // from stop() also cancels that stop).
                if (system_exit) R.stop_requested = false;
                continue;
            }
            if (run_loop && system_exit) break;
            throw;
        }
    }
}

}  // namespace kaa::detail
