#pragma once
// The stall detector's state (kaa/debug.hpp, set_stall_threshold()): the threshold, the
// handler and the stack of units being measured. Private to src/; loop thread only.

#include <kaa/detail/loop.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <type_traits>

namespace kaa::detail {

/// What set_stall_threshold() configures: the threshold and the handler (never empty while
/// g_stall_armed is set).
void stall_configure(Duration threshold, std::function<void(std::string_view, Duration)> handler);
/// Disarms the detector.
void stall_disarm() noexcept;

/// Stall names of the reactor's units: a timer, an fd watcher, a queued Task. Exported from a
/// shared libkaa: the timer heap, which names its timers, is unit-tested through its private
/// header (tests/timer_heap_test.cpp).
#pragma GCC visibility push(default)
std::string timer_name(const void* node);
std::string watcher_name(const void* watcher);
std::string task_name(const void* task);
#pragma GCC visibility pop

/// stall_run() for a callable, named by `name(name_ctx)`; the plain call when unarmed.
template <class F>
inline void stall_call(F&& f, std::string (*name)(const void*), const void* name_ctx) {
    if (!g_stall_armed) [[likely]] {
        f();
        return;
    }
    stall_run([](void* c) { (*static_cast<std::remove_reference_t<F>*>(c))(); }, &f, name,
              name_ctx);
}

}  // namespace kaa::detail
