#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// The reactor's interface (internal): timers, fd watchers, the ready and cross-thread queues,
// bounded inline resumption and the registry of suspended coroutines. The reactor lives in
// src/loop/ (its phases numbered in src/loop/loop.cpp and docs/loop.md). It is the lowest
// layer: it knows no InProgress, no coroutine and no kaa::main facade; layers above register
// what they need (an unwind function per active node, the facade's shutdown hooks).
//
// Lifetime: the Loop is created on first use and never destroyed. Timer nodes, I/O watchers and
// active-coroutine nodes are intrusive: their owners embed them and must unlink them (cancel,
// io_unregister, unregister_active) before destroying them.
//
// Threads: everything here is loop-thread only except on_loop_thread(), assert_loop_thread(),
// post_to_loop() and loop_wakeup(), which are thread-safe.

#include <kaa/detail/callback.hpp>
#include <kaa/detail/invariant.hpp>

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>

namespace kaa::detail {

using Clock = std::chrono::steady_clock;
using Duration = std::chrono::steady_clock::duration;

/// The live-frame count of [check.invariants], kept by coroutine frames
/// (detail/coroutine_impl.hpp) in debug and sanitizer builds only (Release compiles every update
/// out): frames created and not yet ended, and per thread how many of them have their body on
/// that thread's stack right now. After loop shutdown every frame that is not running must have
/// ended (the facade's shutdown sequence checks frames_parked() == 0). The library and the
/// program must agree on NDEBUG, as for every KAA_INVARIANT.
struct FrameCounts {
    std::atomic<long> unfinished{0};  ///< created, not yet ended (any thread)
};
extern constinit FrameCounts g_frame_counts;
extern thread_local constinit long t_frames_running;  ///< bodies on this thread's stack
/// Frames that have not ended and are not running on this thread (0 after loop shutdown).
inline long frames_parked() noexcept {
    return g_frame_counts.unfinished.load(std::memory_order_relaxed) - t_frames_running;
}

/// An intrusive timer entry: the owner embeds it, the loop keeps a pointer in its 4-ary heap.
/// The owner must cancel it (or let it fire) before it is destroyed.
struct TimerNode {
    static constexpr std::uint32_t npos = ~std::uint32_t{0};
    Clock::time_point due{};  ///< deadline (loop clock)
    std::uint64_t seq = 0;    ///< arming order: ties on `due` fire in arming order
    /// Called on the loop thread once the deadline passed; the node is already unarmed, so it
    /// may re-arm itself (it then fires in a later iteration, never in the same batch), cancel
    /// or arm others, or be destroyed.
    void (*fire)(TimerNode*) = nullptr;
    /// Position in the heap, npos when not armed. 32 bits: owners may pack a field of their own
    /// into the rest of the node's last word (timers keep their reference count there).
    std::uint32_t heap_index = npos;
    /// Whether it waits in the heap (false inside its own fire()).
    bool armed() const noexcept { return heap_index != npos; }
};

/// Arms (or re-arms, moving it) `node` to fire at `due`. O(log n). A node armed during the
/// timer phase never fires in that same phase.
void timer_arm(TimerNode* node, Clock::time_point due);
/// Disarms `node` if armed; a no-op otherwise. O(log n).
void timer_cancel(TimerNode* node) noexcept;
/// The time read at the start of the current loop iteration (or now, outside the loop).
Clock::time_point loop_now() noexcept;
/// A fresh reading of the clock, also stored as loop_now().
Clock::time_point refresh_now() noexcept;

/// True on the thread that runs (or last ran) the kaa main loop.
bool on_loop_thread() noexcept;

/// The guard of a loop-thread-only public call (docs/semantics.md [core.thread.4]): in a debug
/// build (NDEBUG not defined), called on any thread but the loop thread, it prints
/// "kaa: <call> called off the loop thread" to stderr and ends the process (std::abort()).
/// Compiled out with NDEBUG.
inline void assert_loop_thread([[maybe_unused]] const char* call) noexcept {
#ifndef NDEBUG
    if (!on_loop_thread()) {
        std::fprintf(stderr, "kaa: %s called off the loop thread\n", call);
        std::abort();
    }
#endif
}
/// Queues `task` to run on the loop thread and wakes the loop. Thread-safe.
void post_to_loop(Task task);

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

/// Wakes a sleeping loop. Thread-safe, coalesced.
void loop_wakeup() noexcept;

/// Housekeeping the loop runs on its thread each time it is about to sleep in epoll_wait
/// (nothing ready, posted or due): work that must not cost busy iterations (the frame allocator
/// returns memory there). Returns whether it did work (the loop then reads the clock again
/// before it sleeps). It must be cheap when there is nothing to do, and must not throw.
using IdleHook = bool (*)() noexcept;
/// Registers `hook` for good (at most 4 per process: false, and not registered, past that).
/// Thread-safe, callable during static initialisation.
bool add_idle_hook(IdleHook hook) noexcept;

/// An fd readiness watcher (IOMonitor's engine). One read and one write watcher per fd.
/// Level-triggered: it is called in every iteration while the fd stays ready.
struct IoWatcher {
    int fd = -1;              ///< the watched fd (valid while registered)
    bool write = false;       ///< watches writability instead of readability
    bool registered = false;  ///< in the loop's fd table
    /// Called on the loop thread when the fd is ready (errors and hang-ups count as ready); it
    /// may unregister or destroy this watcher or any other.
    void (*ready)(IoWatcher*) = nullptr;
};
/// Starts watching `fd` for readability (write=false) or writability; a watcher registered
/// elsewhere is moved. Throws std::invalid_argument for a negative fd or if another watcher has
/// that fd and direction, std::system_error if epoll refuses the fd (a regular file: EPERM; a
/// closed fd: EBADF); then nothing changed.
void io_register(IoWatcher* w, int fd, bool write);
/// Stops watching; idempotent. Safe after the fd was closed.
void io_unregister(IoWatcher* w) noexcept;

/// The status watch_child() passes when waitpid() did not know the pid (ECHILD): another part
/// of the program reaped it, or SIGCHLD was ignored (auto-reap) when it exited. Not a valid
/// wait status.
constexpr int kChildLost = -1;
/// Reaps child `pid` through the loop (docs/semantics.md [loop.child]): once it has exited,
/// an iteration of the loop calls waitpid(pid, WNOHANG) and then `callback(status)` with the
/// wait status (decode it with WIFEXITED/WEXITSTATUS, WIFSIGNALED/WTERMSIG), or kChildLost; on
/// the loop thread, in the ready phase of that iteration, never inside this call. Called once;
/// the watch then ends. Watching a pid again replaces its callback. Only watched pids are
/// waited for (never waitpid(-1)). Installs the SIGCHLD handler on first use (it chains to a
/// handler installed before). Loop thread only. Nothing happens while no loop iteration runs.
void watch_child(pid_t pid, std::function<void(int status)> callback);
/// Stops watching `pid` without reaping it; true if it was watched. Loop thread only.
bool unwatch_child(pid_t pid) noexcept;
/// The number of watched children (tests). Loop thread only.
std::size_t watched_children() noexcept;

/// A `bool()` callable for timers and I/O monitors: calls `f(bound...)` and returns whether to
/// keep going (only an explicit `false` stops; see invoke_keeps_going()).
template <class F, class... Bound>
auto loop_callable(F f, Bound... bound) {
    return [f = std::move(f), ... bound = std::move(bound)]() mutable {
        return invoke_keeps_going(f, bound...);
    };
}

/// As loop_callable(), for an owner held weakly: calls `f(bound...)`, or for a member
/// function pointer `(owner->*f)(bound...)`, while the owner lives; returns false (stop) once
/// it died, without calling anything. The owner is held strongly only during the call.
template <class O, class F, class... Bound>
auto weak_loop_callable(std::weak_ptr<O> owner, F f, Bound... bound) {
    return [owner = std::move(owner), f = std::move(f), ... bound = std::move(bound)]() mutable {
        auto strong = owner.lock();
        if (!strong) return false;
        if constexpr (std::is_member_function_pointer_v<F>) {
            return invoke_keeps_going(f, strong.get(), bound...);
        } else {
            return invoke_keeps_going(f, bound...);
        }
    };
}

/// loop_callable() as a std::function.
template <class F, class... Bound>
std::function<bool()> bind_loop_callback(F f, Bound... bound) {
    return loop_callable(std::move(f), std::move(bound)...);
}

/// weak_loop_callable() as a std::function.
template <class O, class F, class... Bound>
std::function<bool()> bind_weak_loop_callback(std::weak_ptr<O> owner, F f, Bound... bound) {
    return weak_loop_callable(std::move(owner), std::move(f), std::move(bound)...);
}

/// The stall detector (kaa/debug.hpp): set while a threshold is configured. Loop thread only;
/// every measured unit (a timer, fd or queued callback, a coroutine step) tests it first, so an
/// unarmed detector costs one load and branch per callback.
extern bool g_stall_armed;
/// Runs `fn(ctx)` as one measured unit of loop work (only called while g_stall_armed): if it
/// holds the loop longer than the threshold — not counting nested units already reported — the
/// handler gets `name(name_ctx)`. Exceptions from `fn` propagate (the unit is still measured).
void stall_run(void (*fn)(void*), void* ctx, std::string (*name)(const void*),
               const void* name_ctx);
/// Names the timers whose fire function is `fire` in stall reports (their owner's kind: a
/// Timer and its callback, a delay(), a coroutine's interval). At most 16 registrations;
/// registered once, at first use of the owner's kind. Loop thread only.
void name_timers(void (*fire)(TimerNode*), std::string (*namer)(const TimerNode*)) noexcept;
/// The same for fd watchers whose ready function is `ready`.
void name_watchers(void (*ready)(struct IoWatcher*),
                   std::string (*namer)(const struct IoWatcher*)) noexcept;
/// The demangled name of a type (for stall reports and kaa::debug::pending()).
std::string demangle(const char* mangled);

/// The epoll fd of the reactor (kaa::main::backend_fd()).
int loop_backend_fd();
/// How long the reactor may sleep now: zero if work is ready or posted, the time to the next
/// timer, or -1 (no timer, nothing ready). Loop thread only.
Duration loop_backend_timeout();

/// The two passes of the shutdown over the registry of suspended frames.
enum class UnwindPhase : unsigned char {
    detach,  ///< first pass, every node: stop waiting for anything (no outcome delivered yet)
    end,     ///< second pass, every node still registered: end the frame
};

/// Registry of running coroutines so that loop shutdown can end suspended frames.
struct ActiveNode {
    ActiveNode* prev = nullptr;
    ActiveNode* next = nullptr;
    /// Set by register_active(): called at loop shutdown, once per phase, with the node
    /// unlinked from the registry: first `detach` for every node, then `end` for every node
    /// still linked (a node that unregisters in between is not ended). Two passes, so that no
    /// frame is woken by the end of another (a coroutine detaches from what it awaits, then
    /// its frame is closed). The reactor knows nothing else of what it ends.
    void (*unwind)(ActiveNode*, UnwindPhase) noexcept = nullptr;
};
/// Links `n` into the registry (at the front), to be ended by `unwind(n, …)` at loop shutdown
/// unless it unregisters first.
void register_active(ActiveNode* n, void (*unwind)(ActiveNode*, UnwindPhase) noexcept) noexcept;
/// The registry's head (a circular list: head->next is the newest node; the head itself has no
/// unwind function). For kaa::debug::pending(); loop thread only.
ActiveNode* active_registry() noexcept;
/// Unlinks `n` from whatever list holds it; idempotent.
inline void unregister_active(ActiveNode* n) noexcept {
    if (!n->prev) return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = nullptr;
}

}  // namespace kaa::detail

#pragma GCC visibility pop
