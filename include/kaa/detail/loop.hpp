#pragma once
// The pieces of the main loop that headers need (internal). The loop itself, its reactor and
// its phases live in src/loop.cpp; the public facade is kaa/main.hpp.
//
// Threads: everything here is loop-thread only except post_to_loop() (detail/state.hpp) and
// loop_wakeup(), which are thread-safe.

#include <kaa/detail/callback.hpp>

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

namespace kaa::detail {

using Clock = std::chrono::steady_clock;
using Duration = std::chrono::steady_clock::duration;

/// An intrusive timer entry: the owner embeds it, the loop keeps a pointer in its 4-ary heap.
/// The owner must cancel it (or let it fire) before it is destroyed.
struct TimerNode {
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);
    Clock::time_point due{};
    std::uint64_t seq = 0;
    std::size_t heap_index = npos;
    /// Called on the loop thread when the deadline passed; the node is already unarmed.
    void (*fire)(TimerNode*) = nullptr;
    bool armed() const noexcept { return heap_index != npos; }
};

/// Arms (or re-arms) `node` to fire at `due`. O(log n).
void timer_arm(TimerNode* node, Clock::time_point due);
/// Disarms `node` if armed. O(log n).
void timer_cancel(TimerNode* node) noexcept;
/// The time read at the start of the current loop iteration (or now, outside the loop).
Clock::time_point loop_now() noexcept;
/// A fresh reading of the clock, also stored as loop_now().
Clock::time_point refresh_now() noexcept;

/// Queues `task` to run in the next iteration's ready phase, never inside this call.
void schedule_ready(Task task);

/// Depth of nested inline resumptions on this thread (see run_bounded()).
extern thread_local int inline_depth;
constexpr int kMaxInlineDepth = 48;
/// Queues work that was too deep to run inline; run by the outermost run_bounded().
void defer_inline(Task task);
/// Runs deferred inline work; called when the outermost run_bounded() unwinds.
void drain_inline() noexcept;

/// Runs `now()` at once unless the inline-resumption depth on this thread is past its bound;
/// then `later()` (which returns a Task) is queued and run by the outermost run_bounded() once
/// it unwinds. Keeps a long chain of synchronously finishing coroutines from growing the stack
/// while keeping kaa's "resumed before finish() returns" for everything but the deepest links.
template <class Now, class Later>
void run_bounded(Now&& now, Later&& later) {
    if (inline_depth >= kMaxInlineDepth) {
        defer_inline(later());
        return;
    }
    ++inline_depth;
    struct Guard {
        ~Guard() {
            if (--inline_depth == 0) drain_inline();
        }
    } guard;
    now();
}

/// Runs loop iterations while cond() is true and the timeout (if any) has not passed.
/// Re-entrant on the loop thread (wait() uses it).
void loop_while(const std::function<bool()>& cond, std::optional<Duration> timeout);

/// Blocks a non-loop thread until `finished()` or the timeout; returns finished().
bool block_until(const std::function<bool()>& finished, std::optional<Duration> timeout);
/// Wakes threads blocked in block_until() (called after any state completes).
void notify_blocked_threads() noexcept;

/// Wakes a sleeping loop. Thread-safe, coalesced.
void loop_wakeup() noexcept;

/// Runs `hook` during loop shutdown, after the shutdown signals (thread pools stop here).
void add_shutdown_hook(std::function<void()> hook);

/// An fd readiness watcher (IOMonitor's engine). One read and one write watcher per fd.
struct IoWatcher {
    int fd = -1;
    bool write = false;
    bool registered = false;
    /// Called on the loop thread when the fd is ready; it may unregister or destroy the watcher.
    void (*ready)(IoWatcher*) = nullptr;
};
/// Starts watching `fd` for readability (write=false) or writability. Throws std::system_error
/// if epoll refuses the fd, std::invalid_argument if another watcher has that fd and direction.
void io_register(IoWatcher* w, int fd, bool write);
/// Stops watching; idempotent.
void io_unregister(IoWatcher* w) noexcept;

/// Registry of running coroutines so that loop shutdown can unwind suspended frames.
struct ActiveNode {
    ActiveNode* prev = nullptr;
    ActiveNode* next = nullptr;
    /// Throws the shutdown exception into the suspended frame (it then runs to its end).
    void (*shutdown)(ActiveNode*) = nullptr;
};
void register_active(ActiveNode* n) noexcept;
void unregister_active(ActiveNode* n) noexcept;

}  // namespace kaa::detail
