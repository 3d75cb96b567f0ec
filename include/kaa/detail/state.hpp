#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// The shared state behind every InProgress handle (internal).
//
// One state, two faces: a plain InProgress<T> allocates a PlainState<T>; a coroutine's promise
// *is* a State<T>, so a coroutine call is one allocation and Coroutine<T> is an InProgress<T>.
//
// States of a StateBase (status_):
//   pending   — no result yet; listeners may be added and removed (head_/tail_ list).
//   succeeded — value stored (State<T>::value_), listeners fired and dropped.
//   failed    — error_ stored, listeners fired and dropped; handled_ tells whether anyone
//               consumed the exception (a listener returned false, result() read, wait(),
//               a coroutine received it, or it came from abort()). An unhandled failure is
//               reported through report_exception() when the last strong reference goes.
//
// The listener list (head_) after the status left `pending` holds the listeners that are still to
// be called by the running (or deferred) dispatch: each is unlinked just before it is called, so a
// listener that disconnects another one (or aborts a coroutine whose awaiter is in the list) takes
// it out before it is called — collect, dispatch, re-check. A listener added to a finished state
// never enters the list: it is called at once (docs/semantics.md [ip.listen.2]).
//
// Stack depth: complete() dispatches through run_bounded(), so a long chain of InProgress
// objects finishing each other inline (waitfor(), finish(other), awaiting coroutines) is
// unrolled by the outermost finish() instead of nesting one stack frame group per link; and the
// last release of a state released while another state is being destroyed on the same thread
// is queued and run by the outermost release, so dropping a long chain does not recurse.
//
// Lifetime: an intrusive strong count (refs_) counts handles; a coroutine holds one more for
// itself while it runs. Weak references (for InProgressAborted) go through a WeakControl
// allocated on demand.
//
// Threads: status_, refs_ and handled_ are atomic; everything else is touched on the loop
// thread only. finish()/throw from another thread is posted to the loop thread by the public
// handle, so listeners always run on the loop thread. wait() off the loop thread uses a global
// condition variable signalled by complete(); the waiting thread then reads the stored value
// (published by the release store of status_) and may mark the failure handled.

#include <kaa/detail/callback.hpp>
#include <kaa/detail/frame_alloc.hpp>
#include <kaa/detail/invariant.hpp>
#include <kaa/detail/loop.hpp>
#include <kaa/errors.hpp>

#include <atomic>
#include <cassert>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace kaa {
class InProgressStatus;
class InProgressAborted;
}  // namespace kaa

namespace kaa::detail {

class StateBase;

/// Blocks a non-loop thread until `finished()` or the timeout; returns finished(). Thread-safe.
bool block_until(const std::function<bool()>& finished, std::optional<Duration> timeout);
/// Wakes threads blocked in block_until() (called after any state completes). Thread-safe.
void notify_blocked_threads() noexcept;
/// Set (for good) once a thread blocked in wait() off the loop thread: until then completions
/// skip notify_blocked_threads().
extern std::atomic<bool> g_ever_blocked;

/// Which outcomes a listener wants.
enum class ListenKind : std::uint8_t { result = 1, exception = 2, both = 3 };

/// A node in a state's listener list. Coroutine awaiters embed one (no allocation); callbacks
/// connected by users live in a heap FnListener.
struct Listener {
    Listener* next = nullptr;
    /// Called exactly once: with the state when it finished with an outcome this listener
    /// wants (return false to mark a failure as handled), or with null when the listener is
    /// dropped without firing (the result is ignored). One pointer for both keeps the node, which
    /// every awaiting coroutine frame embeds, at 32 bytes.
    bool (*fire)(Listener*, StateBase*) = nullptr;
    std::uint64_t id = 0;
    ListenKind kind = ListenKind::both;

    /// Drops it without firing.
    void drop() { fire(this, nullptr); }

    bool wants(bool failed) const {
        return (static_cast<unsigned>(kind) &
                static_cast<unsigned>(failed ? ListenKind::exception : ListenKind::result)) != 0;
    }
};

/// A heap listener around a callable `bool(StateBase&)`; deletes itself after firing or dropping.
template <class F>
struct FnListener final : Listener {
    F fn;
    explicit FnListener(F f, ListenKind k) : fn(std::move(f)) {
        kind = k;
        fire = [](Listener* l, StateBase* s) -> bool {
            std::unique_ptr<FnListener> owned(static_cast<FnListener*>(l));
            return s ? owned->fn(*s) : true;
        };
    }
};

/// A weak reference target: nulled under a global mutex when the state dies.
struct WeakControl {
    std::atomic<std::uint32_t> refs{1};
    StateBase* target = nullptr;
};

/// A connected abort listener: gets the InProgressAborted, may veto by returning false.
struct AbortListener {
    std::uint64_t id;
    std::function<bool(const InProgressAborted&)> fn;
};

/// The rarely used parts of a state, allocated on first use to keep the common state small.
struct StateExtra {
    std::vector<AbortListener> abort_listeners;
    std::shared_ptr<InProgressStatus> progress;
    bool aborting = false;  ///< inside abort() (see AbortingScope)
};

/// waitfor()'s listener when the waiting InProgress already finished: reports the late outcome
/// of `s` (a failure itself, a result as "already finished") and returns false for a failure,
/// which then counts as handled (docs/semantics.md [ip.waitfor.2]).
bool report_late_outcome(const StateBase& s) noexcept;

/// Returns a fresh listener/connection id (loop thread).
std::uint64_t next_listener_id() noexcept;

/// Throws abort()'s std::runtime_error for a state that is not abortable, saying why; `what` is
/// "InProgress" or "coroutine".
[[noreturn]] void throw_not_abortable(const StateBase& s, const char* what);
/// Throws abort()'s std::runtime_error for an abort an abort listener vetoed.
[[noreturn]] void throw_abort_vetoed(const char* what);

/// Bounds the stack depth of nested abort() calls ([ip.abort.8]). An abort may call abort
/// listeners that abort other InProgress objects, whose listeners abort more (a chain of
/// coroutines each awaiting the next one's timeout(abort=true)): one stack frame group per link.
/// Past kMaxAbortNesting nested aborts on this thread, abort_deferred_if_deep() queues the
/// abort instead; the outermost abort runs the queue when it returns, one after another.
constexpr int kMaxAbortNesting = 32;
/// If this thread is nested kMaxAbortNesting aborts deep, queues `s.abort(exc)` (holding `s`)
/// and returns true; the caller then returns without aborting. What the queued abort throws
/// later is reported, except an InProgressAborted (the aborted object's own outcome).
bool abort_deferred_if_deep(StateBase& s, const std::exception_ptr& exc);
/// Marks one nested abort on this thread while alive; the outermost runs the queued aborts.
class AbortNesting {
public:
    AbortNesting() noexcept;
    ~AbortNesting();
    AbortNesting(const AbortNesting&) = delete;
    AbortNesting& operator=(const AbortNesting&) = delete;
};

/// Marks a plain InProgress (or a threaded call) as being aborted while its abort() runs: a
/// re-entrant abort() (from one of its abort listeners, directly or through another InProgress)
/// throws std::runtime_error ("already being aborted") instead of recursing without bound.
/// Cleared when abort() returns or throws (a veto). Only a state with abort listeners can be
/// re-entered, so one without StateExtra is not marked.
class AbortingScope {
public:
    explicit AbortingScope(StateBase& s);
    ~AbortingScope() {
        if (x_) x_->aborting = false;
    }
    AbortingScope(const AbortingScope&) = delete;
    AbortingScope& operator=(const AbortingScope&) = delete;

private:
    StateExtra* x_ = nullptr;
};

class StateBase {
public:
    enum Status : std::uint8_t { pending = 0, succeeded = 1, failed = 2 };

    StateBase() = default;
    StateBase(const StateBase&) = delete;
    StateBase& operator=(const StateBase&) = delete;

    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        // The sole reference, and no weak one that could revive it: nobody else can touch the
        // count, so the last release needs no read-modify-write.
        if ((refs_.load(std::memory_order_acquire) == 1 && !weak_) ||
            refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            last_release();
        }
    }
    /// Increments the strong count unless it already reached zero (weak upgrade).
    bool try_add_ref() noexcept;
    /// Whether exactly one strong reference exists (a frame's own, when nothing else holds it).
    bool sole_reference() const noexcept { return refs_.load(std::memory_order_acquire) == 1; }

    Status status() const noexcept { return status_.load(std::memory_order_acquire); }
    bool finished() const noexcept { return status() != pending; }

    /// Appends a listener. On a finished state it fires (or is dropped) at once: a late
    /// connect always sees the outcome (docs/semantics.md [ip.listen.2]).
    void add_listener(Listener* l);
    /// Unlinks a listener without firing or dropping it; returns whether it was linked.
    bool unlink_listener(Listener* l) noexcept;
    /// Unlinks and drops the listener with this id; returns whether one was found.
    bool remove_listener(std::uint64_t id) noexcept;
    /// Number of connected listeners that want the result (len(ip) in kaa); 0 once finished.
    std::size_t result_listener_count() const noexcept;

    /// Stores an exception and completes (loop thread; must be pending).
    void fail(std::exception_ptr e);
    /// fail() for an exception thrown in from outside (throw_exception()): an InProgressAborted
    /// thrown into an InProgress with abort listeners counts as handled, and those listeners are
    /// called after the exception listeners (kaa's order, docs/semantics.md [ip.abort.6]).
    void fail_thrown(std::exception_ptr e);
    /// Runs after the value or error was stored: wakes threads, drops the abort listeners,
    /// then fires (or drops) each listener once — inline, unless the inline depth on this thread
    /// is past its bound (then the outermost run_bounded() does it before it returns). An
    /// ordinary exception from a listener is reported; a BaseException (an abort, SystemExit)
    /// propagates out of complete() after the other listeners were called.
    void complete() {
        if (!head_ && !extra_) {
            // Nothing else to do: no listener of any kind.
            if (g_ever_blocked.load(std::memory_order_relaxed)) notify_blocked_threads();
            return;
        }
        complete_listeners();
    }

    /// kaa's abort for a plain InProgress ([ip.abort]); coroutines override it.
    virtual void abort(std::exception_ptr exc);
    /// Fails it from outside (InProgress::throw_exception; loop thread). Throws
    /// std::runtime_error if finished. Coroutines override it to close the frame first.
    virtual void throw_exception(std::exception_ptr error);
    bool abortable() const noexcept;
    void set_abortable(bool on) noexcept { abortable_ = on ? 1 : 0; }
    std::uint64_t add_abort_listener(std::function<bool(const InProgressAborted&)> fn);
    bool remove_abort_listener(std::uint64_t id) noexcept;
    /// Emits the abort listeners with exc; returns false iff one returned false.
    bool emit_abort(const std::exception_ptr& exc);

    StateExtra& extra();
    StateExtra* extra_if() const noexcept { return extra_.get(); }
    WeakControl* weak_control();
    /// The weak control block if one was made (no lock: it never changes once made).
    WeakControl* weak_if() const noexcept { return weak_; }

    std::exception_ptr error_;
    /// The exception was consumed; do not report it. Atomic: a thread blocked in wait() may
    /// set it while the loop thread dispatches listeners.
    std::atomic<bool> handled_{false};
    /// -1: abortable iff abort listeners exist; 0/1: set explicitly.
    std::int8_t abortable_ = -1;
    /// Any/All subscribe lazily: on_listeners_changed() is called when this is set.
    bool watches_listeners_ = false;
    /// A coroutine: finish() from outside closes it first (close_for_finish()).
    bool closes_on_finish_ = false;

    /// What this InProgress is, for kaa::debug::pending() and unhandled-exception reports
    /// ("coroutine worker (main.cpp:12)", "delay(1.5 s)", "thread job", …); "InProgress" for
    /// a plain one (or the label of the call that made it, with the debug aids). Loop thread.
    virtual std::string describe() const;

    /// Called by finish() from outside before the value is stored, when closes_on_finish_ is
    /// set: a coroutine unwinds its body, which then can never store an outcome of its own
    /// (docs/semantics.md [coro.close.2]). Throws std::runtime_error if it cannot be closed.
    virtual void close_for_finish() {}
    /// The invariant of every store: a finished InProgress never takes a second outcome.
    void expect_pending() const noexcept {
        KAA_INVARIANT(status() == pending, "a second outcome stored into a finished InProgress");
    }

protected:
    virtual ~StateBase() {
        if (head_) drop_listeners();
    }
    /// Frees the memory (plain: delete; coroutine: destroy the frame).
    virtual void destroy() noexcept = 0;
    /// Called after a listener was added or removed when watches_listeners_ is set.
    virtual void on_listeners_changed() {}
    void set_status(Status s) noexcept {
        expect_pending();
        status_.store(s, std::memory_order_release);
    }

    std::atomic<std::uint32_t> refs_{1};

private:
    void last_release() noexcept;
    /// Reports an unhandled failure, detaches weak references and frees the state.
    void finalize() noexcept;
    /// complete() for a state with listeners or abort listeners.
    void complete_listeners();
    /// Calls the listeners left in head_ (see complete()).
    void dispatch();
    /// Drops the listeners of a state destroyed unfinished.
    void drop_listeners() noexcept;
    std::atomic<Status> status_{pending};
    Listener* head_ = nullptr;  ///< pending: listeners; finished: those still to be dispatched
    union {
        Listener* tail_ = nullptr;  ///< last listener (while refs_ > 0)
        StateBase* next_dead_;      ///< link in the per-thread queue of states to finalise
    };
    std::unique_ptr<StateExtra> extra_;
    /// Weak references' control block, made on demand (InProgressAborted names states weakly;
    /// aborts make one per aborted state, so it is kept out of extra_: one allocation less).
    WeakControl* weak_ = nullptr;
};

/// A state with a typed value. T = void stores nothing.
template <class T>
class State : public StateBase {
public:
    /// Stores the value and completes (loop thread; must be pending). A coroutine is closed
    /// first ([coro.close.2]).
    template <class U>
    void succeed(U&& v) {
        if (this->closes_on_finish_) [[unlikely]]
            this->close_for_finish();
        this->expect_pending();
        value_.emplace(std::forward<U>(v));
        set_status(succeeded);
        complete();
    }
    T& value() { return *value_; }

protected:
    std::optional<T> value_;
};

template <>
class State<void> : public StateBase {
public:
    void succeed() {
        if (closes_on_finish_) [[unlikely]]
            close_for_finish();
        set_status(succeeded);
        complete();
    }
};

/// The state of an InProgress created directly (not a coroutine).
template <class T>
class PlainState final : public State<T> {
public:
    // From the thread's size-class free lists, as coroutine frames: an I/O loop that finishes a
    // batch of InProgress objects per wakeup (one read() per ready connection) would otherwise
    // overflow malloc's small per-thread cache and pay its slow paths on every one.
    static void* operator new(std::size_t size) { return frame_alloc(size); }
    static void operator delete(void* p, std::size_t size) noexcept { frame_free(p, size); }

protected:
    void destroy() noexcept override { delete this; }
};

/// An owning strong reference to a state (internal convenience).
class StateRef {
public:
    StateRef() = default;
    explicit StateRef(StateBase* s, bool adopt = false) : s_(s) {
        if (s_ && !adopt) s_->add_ref();
    }
    StateRef(const StateRef& o) : StateRef(o.s_) {}
    StateRef(StateRef&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
    StateRef& operator=(StateRef o) noexcept {
        std::swap(s_, o.s_);
        return *this;
    }
    ~StateRef() {
        if (s_) s_->release();
    }
    StateBase* get() const { return s_; }
    StateBase* operator->() const { return s_; }
    explicit operator bool() const { return s_ != nullptr; }

private:
    StateBase* s_ = nullptr;
};

}  // namespace kaa::detail

#pragma GCC visibility pop
