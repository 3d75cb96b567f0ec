#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// kaa::main — the main loop facade: run it, step it, stop it, and its signals.
//
// There is one main loop per process. The thread that runs it (run(), loop(), step(), or a
// wait() on that thread) is the "main thread" (is_mainthread()); before any loop ran, it is the
// thread that first used kaa. Every timer, I/O and InProgress callback runs on that thread.
//
// Phases of one iteration (src/loop/loop.cpp, docs/loop.md): clock → epoll_wait → SIGINT/SIGTERM →
// timers → I/O → work posted from other threads → ready coroutines; then `step` is emitted.
//
// Stopping: stop() ends run()'s loop after the current iteration; a loop nested in it (a wait()
// inside a callback) or a loop()/wait() outside run() throws kaa::SystemExit instead, as kaa
// raised SystemExit. SIGTERM (and SIGINT if it had its default disposition) is handled while
// run() runs and makes it return normally; the previous dispositions are restored when it ends.
//
// Threads: post(), wakeup(), stop() and step() may be called from any thread (stop() is then
// posted to the loop, step() only wakes it); everything else is main-thread only.

#include <kaa/detail/callback.hpp>
#include <kaa/signal.hpp>

#include <chrono>
#include <concepts>
#include <exception>
#include <functional>
#include <optional>

/// The main loop: run, stop and step it, its signals, and posting work to its thread (see the
/// file comment of kaa/main.hpp).
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

/// Runs the loop until stop(), SIGINT/SIGTERM or a SystemExit (one the `exception` signal did
/// not veto); then runs the shutdown sequence: emits `shutdown` (is_running() is false by then),
/// disconnects every `shutdown` and `step` listener, emits `shutdown_after`, stops thread pools
/// and unwinds suspended coroutine frames. Throws std::runtime_error if a loop is already
/// running (including a wait() or loop() on this thread); another exception escaping the loop
/// propagates after the shutdown sequence. May be called again afterwards.
void run();

/// Makes run() return after the current iteration; safe from any callback, never runs the
/// shutdown sequence inside the caller's stack while a loop runs. A loop nested in run(), or a
/// loop()/wait() running outside run(), throws kaa::SystemExit before its next iteration (a
/// listener of `exception` returning false for it cancels the stop). From another thread it is
/// posted. If no loop runs, the shutdown sequence runs now (or, inside a bare step(), when that
/// step() returns); once shut down, it does nothing until the next run().
void stop();

/// Runs one iteration (sleeping until something is due or posted, at most 30 s), then emits
/// `step`. Exceptions from callbacks propagate (no `exception` signal). From another thread it
/// only wakes the loop.
void step();

/// Runs one iteration without sleeping: what is due, ready, posted or readable now runs, then
/// `step` is emitted; returns at once otherwise. For a foreign event loop that hosts kaa
/// (docs/semantics.md [loop.host]): call it when backend_fd() is readable or backend_timeout()
/// passed. Exceptions from callbacks propagate (as step()). From another thread it only wakes
/// the loop.
void step_nowait();
/// The loop's epoll fd, for a foreign event loop to watch (like libuv's uv_backend_fd()): it is
/// readable whenever an fd kaa watches is ready or work was posted from another thread
/// ([loop.host]). Timers and work queued for the next iteration do not make it readable: wait
/// at most backend_timeout(). Never closed; do not read from it or close it. Thread-safe.
int backend_fd();
/// How long a foreign event loop may wait on backend_fd() before calling step_nowait(): zero if
/// work is ready (a NotFinished resumption, posted work), the time until the next timer, or
/// std::nullopt if there is neither (wait for backend_fd() alone). Changes with every call that
/// arms a timer or queues work: ask again after each step_nowait() and after running other code
/// that may use kaa. Loop thread only.
std::optional<std::chrono::nanoseconds> backend_timeout();
/// Runs iterations while `condition()` is true (checked before each one), at most `timeout`
/// (ending at most one iteration after it passed). Exceptions go to the `exception` signal as
/// in run() and propagate unless vetoed. Re-entrant. Throws std::runtime_error if the loop runs
/// in another thread, kaa::SystemExit after stop() (see stop()).
void loop(const std::function<bool()>& condition,
          std::optional<std::chrono::nanoseconds> timeout = std::nullopt);
/// As above with a fixed condition (docs/semantics.md [loop.loop.2]: the value is used, `false`
/// returns at once without an iteration). A template so that a captureless lambda, which converts
/// to bool, still picks the overload above.
template <class B>
    requires std::same_as<B, bool>
void loop(B condition, std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
    if (!condition) return;
    loop(std::function<bool()>([] { return true; }), timeout);
}

/// A loop is running on the loop thread: run(), or a loop()/wait() (kaa's is_running()).
/// False during the shutdown sequence.
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

#pragma GCC visibility pop
