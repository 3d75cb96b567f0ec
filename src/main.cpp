// kaa::main: the run/stop/step/loop facade over detail::Loop, loop_while() (the loop every
// run(), loop() and wait() on the loop thread goes through), and the shutdown sequence.
//
// Threads: loop thread only, except stop(), step(), post_task() and wakeup() (see main.hpp).

#include "loop_impl.hpp"

#include <kaa/detail/state.hpp>
#include <kaa/errors.hpp>
#include <kaa/main.hpp>

#include <cstdlib>
#include <stdexcept>

namespace kaa::main {

namespace {
using detail::Loop;

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

// kaa's _stop() (reference §4.5): shutdown, disconnect shutdown and step listeners,
// shutdown_after, thread pools (hooks), then unwind suspended coroutine frames.
void shutdown_sequence() noexcept {
    Loop& L = Loop::instance();
    L.shutting_down = true;
    L.running = false;
    L.shutdown_deferred = false;
    MainSignals& s = signals();
    shutdown_part([&] { s.shutdown.emit(); }, "Exception in main shutdown signal");
    shutdown_part([&] { s.shutdown.disconnect_all(); }, "Exception in main shutdown signal");
    shutdown_part([&] { s.step.disconnect_all(); }, "Exception in main shutdown signal");
    shutdown_part([&] { s.shutdown_after.emit(); }, "Exception in main shutdown_after signal");
    for (std::size_t i = 0; i < L.shutdown_hooks().size(); ++i) {
        shutdown_part([&] { L.shutdown_hooks()[i](); }, "Exception in shutdown hook");
    }
    shutdown_part([&] { L.shutdown_active(); }, "Exception while unwinding coroutines");
    L.stopped = true;
}

void at_process_exit() {
    // Never create the loop just to shut it down.
    if (!Loop::exists()) return;
    Loop& L = Loop::instance();
    if (!detail::on_loop_thread() || L.running) return;
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
    if (L.running) throw std::runtime_error("kaa: main loop is already running");
    L.shutting_down = false;
    L.stopped = false;
    L.stop_requested = false;
    L.shutdown_deferred = false;
    L.in_run = true;
    L.install_signal_handlers();
    // Dispositions go back before the shutdown sequence: a second SIGINT/SIGTERM during a slow
    // shutdown gets the process's own behaviour (by default: terminate).
    auto leave = [&L] {
        L.in_run = false;
        L.restore_signal_handlers();
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
    if (L.running) {
        L.stop_requested = true;
        L.wakeup();
    } else if (L.stepping > 0) {
        // Inside a callback of a bare step(): shutting down here could unwind the very frame
        // that called stop(). step() does it once the iteration is over.
        L.shutdown_deferred = true;
    } else if (!L.shutting_down) {
        shutdown_sequence();
    }
}

void step() {
    if (!detail::on_loop_thread()) {
        wakeup();
        return;
    }
    Loop& L = Loop::instance();
    struct Stepping {
        Loop& L;
        explicit Stepping(Loop& l) : L(l) { ++L.stepping; }
        ~Stepping() { --L.stepping; }
    };
    {
        Stepping guard(L);
        L.step_once(true);
        signals().step.emit();
    }
    if (L.stepping == 0 && L.shutdown_deferred && !L.running) {
        L.shutdown_deferred = false;
        if (!L.shutting_down) shutdown_sequence();
    }
}

void loop(const std::function<bool()>& condition, std::optional<std::chrono::nanoseconds> timeout) {
    std::optional<detail::Duration> t;
    if (timeout) t = std::chrono::duration_cast<detail::Duration>(*timeout);
    detail::loop_while(condition, t);
}

bool is_running() { return Loop::instance().running; }
bool is_shutting_down() { return Loop::instance().shutting_down; }
bool is_stopped() { return Loop::instance().stopped; }
bool is_mainthread() { return detail::on_loop_thread(); }
void wakeup() { detail::loop_wakeup(); }
void post_task(detail::Task task) { detail::post_to_loop(std::move(task)); }

}  // namespace kaa::main

namespace kaa::detail {

void loop_while(const std::function<bool()>& cond, std::optional<Duration> timeout) {
    Loop& L = Loop::instance();
    if (!on_loop_thread() && L.running) {
        throw std::runtime_error("kaa: loop running in a different thread");
    }
    if (!L.running) Loop::set_loop_thread();

    struct TimeoutNode : TimerNode {
        bool passed = false;
    } deadline;
    deadline.fire = [](TimerNode* n) { static_cast<TimeoutNode*>(n)->passed = true; };
    if (timeout) L.arm(&deadline, L.refresh_now() + *timeout);

    ++L.depth;
    L.running = true;
    // run()'s own loop: the only one that a stop() or a SystemExit ends normally.
    const bool run_loop = L.depth == 1 && L.in_run;
    // Work deferred by run_bounded() below this frame must be able to run inside the nested
    // loop: the nesting depth starts afresh here and is restored afterwards.
    const int saved_inline_depth = inline_depth;
    inline_depth = 0;
    struct Leave {
        Loop& L;
        TimerNode* node;
        int saved_depth;
        ~Leave() {
            inline_depth = saved_depth;
            L.cancel(node);
            if (--L.depth == 0) {
                L.running = false;
                L.stop_requested = false;  // consumed: a later loop() must not see it
            }
        }
    } leave{L, &deadline, saved_inline_depth};

    for (;;) {
        if (L.stop_requested) {
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
                if (system_exit) L.stop_requested = false;
                continue;
            }
            if (run_loop && system_exit) break;
            throw;
        }
    }
}

}  // namespace kaa::detail
