// The stall detector (kaa/debug.hpp): measures each unit of loop work (a timer, fd, ready or
// posted callback, a coroutine step) while a threshold is set, and reports those that held the
// loop longer. Units nest (a timer callback finishes an InProgress, which resumes a coroutine
// inline): a stall is reported once, by the innermost unit that explains it — an outer unit is
// reported only if its own time, without the nested units already reported, is past the
// threshold. The handler's own time is not counted against any unit.
//
// Threads: loop thread only.

#include "loop/stall.hpp"

#include <kaa/errors.hpp>

#include <cxxabi.h>

#include <cstdlib>
#include <exception>
#include <memory>
#include <utility>

namespace kaa::detail {

bool g_stall_armed = false;

namespace {

Duration g_threshold{};
std::function<void(std::string_view, Duration)> g_handler;

/// A unit being measured.
struct Frame {
    Frame* outer;
    Clock::time_point start;
    Duration excluded{};  ///< nested units already reported, and handler time
};
Frame* g_top = nullptr;

constexpr int kMaxNamers = 16;
struct TimerNamer {
    void (*fire)(TimerNode*);
    std::string (*namer)(const TimerNode*);
};
struct WatcherNamer {
    void (*ready)(IoWatcher*);
    std::string (*namer)(const IoWatcher*);
};
TimerNamer g_timer_namers[kMaxNamers]{};
WatcherNamer g_watcher_namers[kMaxNamers]{};

}  // namespace

void name_timers(void (*fire)(TimerNode*), std::string (*namer)(const TimerNode*)) noexcept {
    for (auto& n : g_timer_namers) {
        if (n.fire == fire || !n.fire) {
            n = {fire, namer};
            return;
        }
    }
}

void name_watchers(void (*ready)(IoWatcher*), std::string (*namer)(const IoWatcher*)) noexcept {
    for (auto& n : g_watcher_namers) {
        if (n.ready == ready || !n.ready) {
            n = {ready, namer};
            return;
        }
    }
}

std::string timer_name(const void* node) {
    const auto* t = static_cast<const TimerNode*>(node);
    for (const auto& n : g_timer_namers) {
        if (n.fire && n.fire == t->fire) return n.namer(t);
    }
    return "a timer";
}

std::string watcher_name(const void* watcher) {
    const auto* w = static_cast<const IoWatcher*>(watcher);
    for (const auto& n : g_watcher_namers) {
        if (n.ready && n.ready == w->ready) return n.namer(w);
    }
    return "the " + std::string(w->write ? "write" : "read") + " watcher of fd " +
           std::to_string(w->fd);
}

std::string task_name(const void* task) {
    const std::type_info* type = static_cast<const Task*>(task)->type();
    return type ? "a queued call of " + demangle(type->name()) : std::string("a queued call");
}

void stall_configure(Duration threshold, std::function<void(std::string_view, Duration)> handler) {
    g_threshold = threshold;
    g_handler = std::move(handler);
    g_stall_armed = static_cast<bool>(g_handler);
}

void stall_disarm() noexcept {
    g_stall_armed = false;
    g_handler = nullptr;
}

void stall_run(void (*fn)(void*), void* ctx, std::string (*name)(const void*),
               const void* name_ctx) {
    Frame f{g_top, Clock::now()};
    g_top = &f;
    struct Finish {
        Frame& f;
        std::string (*name)(const void*);
        const void* name_ctx;
        ~Finish() {
            const Clock::time_point end = Clock::now();
            g_top = f.outer;
            const Duration held = end - f.start;
            Duration excluded = f.excluded;
            if (g_stall_armed && held - f.excluded > g_threshold) {
                // Copied: the handler may reconfigure the detector.
                const auto handler = g_handler;
                try {
                    const std::string what = name ? name(name_ctx) : std::string("a callback");
                    handler(what, held - f.excluded);
                } catch (...) {
                    report_exception(std::current_exception(), "Exception in the stall handler");
                }
                excluded = held + (Clock::now() - end);  // all of it, and the handler's time
            }
            if (f.outer) f.outer->excluded += excluded;
        }
    } finish{f, name, name_ctx};
    fn(ctx);
}

std::string demangle(const char* mangled) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> out(
        abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
    return status == 0 && out ? std::string(out.get()) : std::string(mangled);
}

}  // namespace kaa::detail
