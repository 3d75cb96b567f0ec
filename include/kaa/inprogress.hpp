#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// InProgress<T>: a result that is at once a future (co_await it, wait() for it), a one-shot
// signal (connect callbacks to it) and a handle to abort the work behind it.
//
// An InProgress is a cheap copyable handle to shared state; copies refer to the same operation
// and compare equal. It is pending until finish() or throw_exception(), then succeeded or
// failed for good. Every listener is called at most once and all listeners are dropped when it
// finishes; a listener connected after that is called at once with the outcome (a deliberate
// divergence from kaa.base, docs/semantics.md [ip.listen.2]).
//
// Listeners run inside finish()/throw_exception(), on the loop thread, in connection order;
// each is unlinked just before it is called, so one that disconnects a later one prevents its
// call. A listener may connect, disconnect, finish other InProgress objects or drop the last
// handle. An ordinary exception escaping a listener is reported (report_exception) and the
// others still run; a kaa::BaseException (InProgressAborted, SystemExit) propagates out of
// finish() once the others ran. Stack depth is bounded: when finishing nests deeper than
// detail::kMaxInlineDepth (a chain of InProgress objects waiting for each other, coroutines
// resumed inline), the deeper dispatches are queued and run by the outermost finish() before it
// returns — so finishing the last of 100,000 chained InProgress objects finishes all of them
// before that finish() returns, with a flat stack.
//
// Exceptions: a failed InProgress whose exception nobody consumed (result() read, wait(), a
// coroutine awaiting it, an exception listener returning false, waitfor(), an InProgressAny/All
// taking it on) is reported once, through report_exception() with the context "Unhandled
// InProgress exception", when its last handle goes away (on the thread that drops it). An
// abort() is never reported.
//
// Threads: main-loop thread only, except finished(), failed(), wait() and result() after
// finished(), which any thread may call, and finish()/throw_exception()/waitfor()/abort(),
// which, called from another thread, are queued to the loop thread (listeners always run on the
// loop thread). Each member's comment says which it is.

#include <kaa/detail/access.hpp>
#include <kaa/detail/callback.hpp>
#include <kaa/detail/loop.hpp>
#include <kaa/detail/state.hpp>
#include <kaa/errors.hpp>

#include <chrono>
#include <concepts>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

/// kaa for C++: InProgress, signals, the main loop, timers, coroutines, generators, events,
/// threads and I/O (docs/guide.md introduces each; kaa/kaa.hpp includes every header).
namespace kaa {

class InProgressStatus;
template <class T = void>
class InProgress;

/// Identifies a listener connected to an InProgress, for disconnect().
struct ListenerId {
    /// The listener's number (0: none).
    std::uint64_t value = 0;
    /// Same listener.
    friend bool operator==(ListenerId, ListenerId) = default;
};

/// Options for a new InProgress.
struct InProgressOptions {
    /// std::nullopt: abortable iff it has abort listeners (kaa's default).
    std::optional<bool> abortable;
};

/// The type-independent part of every InProgress handle. An empty handle refers to nothing
/// (InProgressAborted::inprogress() of a coroutine aborted at NotFinished, for instance).
class InProgressBase {
public:
    /// An empty handle.
    InProgressBase() = default;
    /// Copies share the operation (handles are reference-counted).
    InProgressBase(const InProgressBase& o) noexcept : s_(o.s_) {
        if (s_) s_->add_ref();
    }
    /// Takes over `o`'s operation; `o` becomes an empty handle.
    InProgressBase(InProgressBase&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
    /// Refers to `o`'s operation (shared).
    InProgressBase& operator=(const InProgressBase& o) noexcept {
        InProgressBase(o).swap(*this);
        return *this;
    }
    /// Takes over `o`'s operation; `o` becomes an empty handle.
    InProgressBase& operator=(InProgressBase&& o) noexcept {
        InProgressBase(std::move(o)).swap(*this);
        return *this;
    }
    ~InProgressBase() {
        if (s_) s_->release();
    }
    /// Exchanges the operations the two handles refer to.
    void swap(InProgressBase& o) noexcept { std::swap(s_, o.s_); }

    /// True unless this is an empty handle.
    bool valid() const noexcept { return s_ != nullptr; }
    /// valid().
    explicit operator bool() const noexcept { return valid(); }

    /// Whether a result or an exception was stored. Thread-safe ([core.thread.3]).
    bool finished() const { return state().finished(); }
    /// Whether it finished with an exception. Thread-safe ([core.thread.3]).
    bool failed() const { return state().status() == detail::StateBase::failed; }
    /// The stored exception (null unless failed). Reading it does not count as handling it.
    /// Thread-safe once finished().
    std::exception_ptr exception() const { return failed() ? state().error_ : nullptr; }
    /// Number of connected result listeners (kaa's len(ip)); exception-only ones don't count.
    /// Loop thread only.
    std::size_t count() const { return state().result_listener_count(); }

    /// Connects `f(std::exception_ptr, bound...)`, called once if it fails. Returning exactly
    /// false marks the exception handled. Called at once if it already failed. Loop thread only.
    template <class F, class... Bound>
    ListenerId connect_exception(F f, Bound... bound) {
        detail::assert_loop_thread("InProgress::connect_exception()");
        return add(
            [f = std::move(f), ... bound = std::move(bound)](detail::StateBase& s) mutable {
                return detail::invoke_keeps_going(f, s.error_, bound...);
            },
            detail::ListenKind::exception);
    }
    /// Connects `f(const InProgressAborted&, bound...)`, called when abort() is called. Returning
    /// exactly false vetoes the abort (abort() then throws std::runtime_error). Makes it abortable.
    /// Loop thread only.
    template <class F, class... Bound>
    ListenerId connect_abort(F f, Bound... bound) {
        detail::assert_loop_thread("InProgress::connect_abort()");
        return {state().add_abort_listener(
            [f = std::move(f), ... bound = std::move(bound)](const InProgressAborted& e) mutable {
                return detail::invoke_keeps_going(f, e, bound...);
            })};
    }
    /// Removes one listener (result, exception, both or abort); returns whether it was found.
    /// Loop thread only.
    bool disconnect(ListenerId id) {
        detail::assert_loop_thread("InProgress::disconnect()");
        return state().remove_listener(id.value) || state().remove_abort_listener(id.value);
    }

    /// kaa's rule: explicitly set, else true iff abort listeners are connected. Loop thread only.
    bool abortable() const { return state().abortable(); }
    /// Sets abortability explicitly (false wins over abort listeners). Loop thread only.
    void set_abortable(bool on) {
        detail::assert_loop_thread("InProgress::set_abortable()");
        state().set_abortable(on);
    }

    /// Aborts with a new InProgressAborted. Throws std::runtime_error if it is finished, not
    /// abortable, or an abort listener vetoed. For a coroutine, see Coroutine::abort().
    /// Thread-safe: posted to the loop thread (returns at once; an error there is reported,
    /// docs/semantics.md [core.thread.2]).
    void abort();
    /// Aborts with `exc`: if exc names another InProgress, a copy of the same type naming this
    /// one is delivered, keeping exc's origin. Thread-safe: posted to the loop thread, as abort().
    void abort(const InProgressAborted& exc);
    /// As above; throws std::invalid_argument unless `exc` holds an InProgressAborted.
    /// Thread-safe: posted to the loop thread, as abort().
    void abort(std::exception_ptr exc);

    /// Fails it with `error`. Throws std::runtime_error if it already finished. Thread-safe:
    /// posted to the loop thread (an error there is reported, [core.thread.2]).
    void throw_exception(std::exception_ptr error);
    /// Fails it with a copy of `error`.
    template <class E>
        requires(!std::same_as<std::decay_t<E>, std::exception_ptr>)
    void throw_exception(E&& error) {
        throw_exception(std::make_exception_ptr(std::forward<E>(error)));
    }

    /// Blocks until finished, running the main loop re-entrantly on the loop thread and waiting
    /// on a condition variable elsewhere (another thread must run the loop then). Counts as a
    /// result listener while it waits, so a lazy InProgressAny/All subscribes (kaa's dummy
    /// listener). Rethrows a failure (it then counts as handled). Throws TimeoutException
    /// (inprogress() = origin() = this) if `timeout` passes first; the InProgress is untouched.
    /// Thread-safe.
    void wait_finished(std::optional<std::chrono::nanoseconds> timeout = std::nullopt) const;

    /// The progress status attached to it (coroutines and threads with `progress`), or null.
    /// Loop thread only (the status itself may be updated from any thread).
    std::shared_ptr<InProgressStatus> progress() const;
    /// Attaches a progress status. Loop thread only.
    void set_progress(std::shared_ptr<InProgressStatus> status);

    /// Same shared state.
    friend bool operator==(const InProgressBase& a, const InProgressBase& b) noexcept {
        return a.s_ == b.s_;
    }

protected:
    friend struct detail::Access;

    /// The shared state. Throws std::logic_error on an empty handle.
    detail::StateBase& state() const {
        if (!s_) throw std::logic_error("kaa: operation on an empty InProgress handle");
        return *s_;
    }
    /// Wraps a state, taking over one strong reference.
    static InProgressBase adopt(detail::StateBase* s) noexcept {
        InProgressBase b;
        b.s_ = s;
        return b;
    }
    /// A new handle to a state (adds a strong reference).
    static InProgressBase share(detail::StateBase* s) noexcept {
        s->add_ref();
        return adopt(s);
    }

    /// @cond INTERNAL
    ListenerId add(auto fn, detail::ListenKind kind) {
        detail::StateBase& s = state();  // throws on an empty handle: check before allocating
        auto* l = new detail::FnListener<decltype(fn)>(std::move(fn), kind);
        l->id = detail::next_listener_id();
        ListenerId id{l->id};
        s.add_listener(l);
        return id;
    }
    /// Rethrows the stored exception if failed (marking it handled); throws if unfinished.
    void check_result() const;
    /// Queues `task` (a finish/throw called on another thread) to the loop thread; an ordinary
    /// exception it throws there (e.g. "already finished") is reported with `context`, not
    /// thrown into the loop.
    static void post_from_thread(
        detail::Task task,
        const char* context = "Exception in finish() called from another thread");
    /// An abort() called on another thread: queues `abort` (the same call) to the loop thread,
    /// where an ordinary exception it throws (finished, not abortable, vetoed) is reported with
    /// the context "Exception in abort() called from another thread" and an InProgressAborted
    /// (a coroutine's uncaught abort: its outcome) is dropped. Throws on an empty handle.
    void post_abort_from_thread(detail::Task abort) const;

    detail::StateBase* s_ = nullptr;
    /// @endcond
};

namespace detail {
template <class T>
struct ResultRef {
    using type = const T&;
};
template <>
struct ResultRef<void> {
    using type = void;
};
template <class T>
T& state_value(StateBase& s) {
    return static_cast<State<T>&>(s).value();
}
}  // namespace detail

/// An operation that finishes with a T (or with nothing, for void) or fails with an exception.
template <class T>
class InProgress : public InProgressBase {
public:
    /// The result type.
    using value_type = T;

    /// A new, pending InProgress.
    InProgress() { s_ = new detail::PlainState<T>(); }
    /// A new, pending InProgress with options (e.g. `{.abortable = true}`).
    explicit InProgress(InProgressOptions opts) : InProgress() {
        if (opts.abortable) s_->set_abortable(*opts.abortable);
    }

    /// Stores the result and calls the result listeners; returns *this. Throws
    /// std::runtime_error if it already finished. Called from another thread, it is queued to
    /// the loop thread (and returns at once); a std::runtime_error there is reported instead.
    template <class U>
        requires(!std::is_void_v<T> && std::constructible_from<T, U&&> &&
                 !std::derived_from<std::decay_t<U>, InProgressBase>)
    InProgress& finish(U&& value) {
        if (!detail::on_loop_thread()) {
            post_from_thread([self = *this, v = T(std::forward<U>(value))]() mutable {
                self.finish(std::move(v));
            });
            return *this;
        }
        ensure_pending();
        typed().succeed(std::forward<U>(value));
        return *this;
    }
    /// Finishes a void InProgress. Thread-safe: posted to the loop thread, as above.
    InProgress& finish() requires std::is_void_v<T> {
        if (!detail::on_loop_thread()) {
            post_from_thread([self = *this]() mutable { self.finish(); });
            return *this;
        }
        ensure_pending();
        typed().succeed();
        return *this;
    }
    /// Finishing with another InProgress waits for it: same as waitfor(other); stays pending
    /// until then. Throws std::invalid_argument for finish(*this) (an InProgress<T> cannot
    /// hold itself; kaa finishes with itself) and std::runtime_error if it already finished.
    InProgress& finish(const InProgress<T>& other) {
        if (detail::on_loop_thread()) ensure_pending();
        if (other == *this) {
            throw std::invalid_argument("kaa: InProgress cannot finish with itself");
        }
        return waitfor(other);
    }

    /// Fails it with `error`; returns *this. Thread-safe: posted to the loop thread.
    InProgress& throw_exception(std::exception_ptr error) {
        InProgressBase::throw_exception(std::move(error));
        return *this;
    }
    /// As throw_exception(std::exception_ptr), with an exception object.
    template <class E>
        requires(!std::same_as<std::decay_t<E>, std::exception_ptr>)
    InProgress& throw_exception(E&& error) {
        return throw_exception(std::make_exception_ptr(std::forward<E>(error)));
    }

    /// The result; rethrows the exception if it failed (which then counts as handled).
    /// Throws std::runtime_error("operation not finished") before it finished. Thread-safe
    /// once finished() ([core.thread.3]).
    typename detail::ResultRef<T>::type result() const {
        check_result();
        if constexpr (!std::is_void_v<T>) return detail::state_value<T>(*s_);
    }

    /// Connects `f(const T&, bound...)` (for void: `f(bound...)`), called once on success.
    /// Called at once if it already succeeded. Loop thread only.
    template <class F, class... Bound>
    ListenerId connect(F f, Bound... bound) {
        detail::assert_loop_thread("InProgress::connect()");
        return add(
            [f = std::move(f), ... bound = std::move(bound)](detail::StateBase& s) mutable {
                if constexpr (std::is_void_v<T>) {
                    return detail::invoke_keeps_going(f, bound...);
                } else {
                    return detail::invoke_keeps_going(f, std::as_const(detail::state_value<T>(s)),
                                                      bound...);
                }
            },
            detail::ListenKind::result);
    }
    /// Connects `on_result` as connect() does and `on_error(std::exception_ptr)` for failure.
    /// Loop thread only.
    template <class F, class G>
    ListenerId connect_both(F on_result, G on_error) {
        detail::assert_loop_thread("InProgress::connect_both()");
        return add(
            [f = std::move(on_result), g = std::move(on_error)](detail::StateBase& s) mutable {
                if (s.status() == detail::StateBase::failed) {
                    return detail::invoke_keeps_going(g, s.error_);
                }
                if constexpr (std::is_void_v<T>) {
                    return detail::invoke_keeps_going(f);
                } else {
                    return detail::invoke_keeps_going(f, std::as_const(detail::state_value<T>(s)));
                }
            },
            detail::ListenKind::both);
    }
    /// One overloaded callable for both outcomes: `f(const T&)` / `f()` and `f(exception_ptr)`.
    template <class F>
    ListenerId connect_both(F f) {
        auto shared = std::make_shared<F>(std::move(f));
        if constexpr (std::is_void_v<T>) {
            return connect_both([shared] { return (*shared)(); },
                                [shared](std::exception_ptr e) { return (*shared)(e); });
        } else {
            return connect_both([shared](const T& v) { return (*shared)(v); },
                                [shared](std::exception_ptr e) { return (*shared)(e); });
        }
    }

    /// Makes this InProgress finish or fail exactly as `other` does (at once if `other` already
    /// finished); `other`'s failure then counts as handled (this one inherits it and is
    /// reported instead, if nobody consumes it). If this one finished meanwhile (an abort),
    /// `other`'s outcome is not taken and its failure is not marked handled. Returns *this.
    /// Called from another thread, it is queued to the loop thread.
    InProgress& waitfor(const InProgress<T>& other) {
        (void)state();  // an empty handle throws std::logic_error (`other` is checked by add())
        if (!detail::on_loop_thread()) {
            post_from_thread([self = *this, other]() mutable { self.waitfor(other); });
            return *this;
        }
        forward_to(other, *this);
        return *this;
    }

    /// Calls f(args...) now and finishes with its return value, or fails with its exception.
    /// Thread-safe: f runs on the calling thread, the finish is posted to the loop thread.
    template <class F, class... Args>
    InProgress& execute(F&& f, Args&&... args) {
        try {
            if constexpr (std::is_void_v<T>) {
                std::invoke(std::forward<F>(f), std::forward<Args>(args)...);
                finish();
            } else {
                finish(std::invoke(std::forward<F>(f), std::forward<Args>(args)...));
            }
        } catch (...) {
            throw_exception(std::current_exception());
        }
        return *this;
    }

    /// Waits (see wait_finished()) and returns the result or rethrows. Thread-safe (blocks off
    /// the loop thread).
    T wait(std::optional<std::chrono::nanoseconds> timeout = std::nullopt) const {
        wait_finished(timeout);
        if constexpr (std::is_void_v<T>) {
            result();
        } else {
            return result();
        }
    }

    /// A new InProgress that finishes with this one's outcome but cannot be aborted; it counts
    /// as a listener, so a coroutine abort does not cascade into this one. Loop thread only.
    InProgress<T> noabort() const {
        detail::assert_loop_thread("InProgress::noabort()");
        InProgress<T> shield(InProgressOptions{.abortable = false});
        forward_to(*this, shield);
        return shield;
    }

    /// A new InProgress that takes this one's outcome, or fails with TimeoutException
    /// (inprogress() = this one) after `t`. When the time passes: `callback` runs first, then,
    /// if `abort`, this one is aborted with the TimeoutException. Aborting the returned one
    /// aborts this one only if `abort` is set. Throws std::invalid_argument if `t` is
    /// negative (as delay() does). Loop thread only (it arms a timer).
    InProgress<T> timeout(std::chrono::nanoseconds t, std::function<void()> callback = {},
                          bool abort = false) const;

protected:
    friend struct detail::Access;

    /// Wraps a state, taking over one strong reference.
    static InProgress adopt(detail::StateBase* s) noexcept {
        InProgress ip(nullptr);
        ip.s_ = s;
        return ip;
    }
    /// Views a type-erased handle as typed; the caller guarantees the type.
    static InProgress from_base(const InProgressBase& b) {
        InProgress ip(nullptr);
        InProgressBase& base = ip;
        base = b;
        return ip;
    }

    /// @cond INTERNAL
    explicit InProgress(std::nullptr_t) {}
    detail::State<T>& typed() const { return static_cast<detail::State<T>&>(state()); }
    void ensure_pending() const {
        if (state().finished()) {
            throw std::runtime_error("kaa: finish(): InProgress already finished");
        }
    }
    /// @endcond

    /// Connects `to` to `from` so that `to` takes `from`'s outcome.
    static ListenerId forward_to(const InProgress<T>& from, InProgress<T> to) {
        return const_cast<InProgress<T>&>(from).add(
            [to](detail::StateBase& s) mutable -> bool {
                // Finished by other means first: the late outcome is reported ([ip.waitfor.2]).
                if (to.finished()) return detail::report_late_outcome(s);
                if (s.status() == detail::StateBase::failed) {
                    to.throw_exception(s.error_);
                    return false;  // inherited: the source's failure counts as handled
                }
                if constexpr (std::is_void_v<T>) {
                    to.finish();
                } else {
                    to.finish(detail::state_value<T>(s));
                }
                return true;
            },
            detail::ListenKind::both);
    }

    template <class>
    friend class InProgress;
};

/// `kaa::inprogress(ip)` is ip itself (the protocol of kaa.inprogress()).
template <class T>
InProgress<T> inprogress(const InProgress<T>& ip) {
    return ip;
}
/// The InProgress an InProgressAborted refers to.
inline InProgressBase inprogress(const InProgressAborted& e) { return e.inprogress(); }

}  // namespace kaa

#include <kaa/detail/inprogress_impl.hpp>

#pragma GCC visibility pop
