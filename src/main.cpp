// kaa::main: the run/stop/loop facade and the shutdown sequence over detail::Loop.

#include "loop_impl.hpp"

#include <kaa/errors.hpp>
#include <kaa/main.hpp>

#include <cstdlib>
#include <stdexcept>

namespace kaa::main {

namespace {
using detail::Loop;

bool is_system_exit(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const SystemExit&) {
        return true;
    } catch (...) {
        return false;
    }
}

void shutdown_sequence() {
    Loop& L = Loop::instance();
    L.shutting_down = true;
    L.running = false;
    MainSignals& s = signals();
    s.shutdown.emit();
    s.shutdown.disconnect_all();
    s.step.disconnect_all();
    s.shutdown_after.emit();
    for (auto& hook : L.shutdown_hooks()) {
        try {
            hook();
        } catch (...) {
            report_exception(std::current_exception(), "Exception in shutdown hook");
        }
    }
    L.shutdown_active();
    L.stopped = true;
}

void at_process_exit() {
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
    L.in_run = true;
    L.install_signal_handlers();
    try {
        detail::loop_while([] { return true; }, std::nullopt);
    } catch (...) {
        L.in_run = false;
        shutdown_sequence();
        throw;
    }
    L.in_run = false;
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
    L.step_once(true);
    signals().step.emit();
}

void loop(const std::function<bool()>& condition, std::optional<std::chrono::nanoseconds> timeout) {
    std::optional<detail::Duration> t;
    if (timeout) t = std::chrono::duration_cast<detail::Duration>(*timeout);
    detail::loop_while(condition, t);
}

void loop(bool condition, std::optional<std::chrono::nanoseconds> timeout) {
    loop([condition] { return condition; }, timeout);
}

bool is_running() { return Loop::instance().in_run && Loop::instance().running; }
bool is_shutting_down() { return Loop::instance().shutting_down; }
bool is_stopped() { return Loop::instance().stopped; }
bool is_mainthread() { return detail::on_loop_thread(); }
void wakeup() { detail::loop_wakeup(); }
void post_task(detail::Task task) { detail::post_to_loop(std::move(task)); }

}  // namespace kaa::main

namespace kaa::detail {

void loop_while(const std::function<bool()>& cond, std::optional<Duration> timeout) {
    Loop& L = Loop::instance();
    if (L.running && !on_loop_thread()) {
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
    const bool outermost = L.depth == 1;
    struct Leave {
        Loop& L;
        TimerNode* node;
        ~Leave() {
            L.cancel(node);
            if (--L.depth == 0) L.running = false;
        }
    } leave{L, &deadline};

    while (!deadline.passed && !(outermost && L.stop_requested) && cond()) {
        try {
            L.step_once(true);
            main::signals().step.emit();
        } catch (...) {
            std::exception_ptr e = std::current_exception();
            bool swallowed = !main::signals().exception.emit(e);
            if (swallowed) continue;
            if (outermost && L.in_run && main::is_system_exit(e)) break;
            throw;
        }
    }
}

}  // namespace kaa::detail
