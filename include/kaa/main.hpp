#pragma once
// kaa::main — the main loop facade: run it, step it, stop it, and its signals.
//
// There is one main loop per process. The thread that runs it (run(), loop(), step(), or a
// wait() on that thread) is the "main thread" (is_mainthread()); before any loop ran, it is the
// thread that first used kaa. Every timer, I/O and InProgress callback runs on that thread.
//
// Phases of one iteration (src/loop.cpp, docs/loop.md): clock → epoll_wait → SIGINT/SIGTERM →
// timers → I/O → work posted from other threads → ready coroutines; then `step` is emitted.
//
// Threads: post() and wakeup() may be called from any thread; stop() from another thread is
// posted to the loop; everything else is main-thread only.

#include <kaa/detail/callback.hpp>
#include <kaa/signal.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <optional>

namespace kaa::main {

/// The main loop's signals (kaa's kaa.main.signals).
struct MainSignals {
    /// An exception escaped a callback run by the loop. If any listener returns false it is
    /// swallowed and the loop keeps running; otherwise it propagates out of loop()/run()
    /// (a kaa::SystemExit, from stop or SIGINT/SIGTERM, makes run() return normally instead).
    Signal<std::exception_ptr> exception;
    /// The loop is shutting down (after run() ends); its listeners and `step`'s are
    /// disconnected afterwards.
    Signal<> shutdown;
    /// After `shutdown`; listeners stay connected.
    Signal<> shutdown_after;
    /// After every loop iteration.
    Signal<> step;
    /// At process exit.
    Signal<> exit;
};

/// The main loop's signals.
MainSignals& signals();

/// Runs the loop until stop(), SIGINT/SIGTERM or a SystemExit; then runs the shutdown sequence
/// (shutdown, shutdown_after, thread pools, suspended coroutines unwound). Throws
/// std::runtime_error if the loop is already running; other exceptions propagate (after the
/// shutdown sequence). May be called again afterwards.
void run();

/// Makes run() return after the current iteration (safe from any callback; from another
/// thread it is posted). If the loop is not running, runs the shutdown sequence now.
void stop();

/// Runs one iteration (sleeping until something happens, at most 30 s), then emits `step`.
/// From another thread it only wakes the loop.
void step();

/// Runs iterations while `condition()` is true, at most `timeout` (ending at most one
/// iteration after it passed). Re-entrant. Throws std::runtime_error if the loop runs in
/// another thread.
void loop(const std::function<bool()>& condition,
          std::optional<std::chrono::nanoseconds> timeout = std::nullopt);
/// As above with a fixed condition (kaa-reference Q9: the value is used, `false` returns at once).
void loop(bool condition, std::optional<std::chrono::nanoseconds> timeout = std::nullopt);

/// A run() is active.
bool is_running();
/// The shutdown sequence started (stays true after run() returned, until the next run()).
bool is_shutting_down();
/// A run() ended; false before the first run().
bool is_stopped();
/// The calling thread is the main-loop thread.
bool is_mainthread();

/// Wakes the loop if it sleeps. Thread-safe.
void wakeup();

/// post() for an already type-erased task.
void post_task(detail::Task task);

/// Queues `f` to run on the loop thread in its next iteration and wakes the loop at once.
/// Thread-safe; the queue is unbounded and kept in order.
template <class F>
void post(F&& f) {
    post_task(detail::Task(std::forward<F>(f)));
}

}  // namespace kaa::main
