#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// Coroutine<T>: the return type of a kaa coroutine — itself an InProgress<T>.
//
//   kaa::Coroutine<int> do_something() {
//       for (int i = 0; i < 10; ++i) {
//           do_something_expensive();
//           co_await kaa::NotFinished;  // give the main loop a time slice
//       }
//       co_return 42;
//   }
//
// Rules (docs/semantics.md [coro]):
//  * Eager: calling it runs the body up to its first real suspension before the call returns.
//    An exception thrown before that propagates to the caller (nothing is reported).
//  * `co_await kaa::NotFinished` resumes in a later main-loop iteration, never inside the call.
//  * `co_await ip` on a finished InProgress does not suspend (a failure is thrown at once); on
//    an unfinished one the coroutine resumes when it finishes — inline, inside finish(), when
//    the interval is 0 (kaa's behaviour; past a nesting bound the resumption is deferred to the
//    outermost finish() so the stack stays bounded).
//  * Locals are destroyed (cleanup runs) before the result listeners are called; parameters
//    live as long as the frame, i.e. until the coroutine is done and its last handle is gone.
//  * A running coroutine owns itself: dropping every handle does not stop it.
//  * abort() throws InProgressAborted at the suspension point (see Coroutine::abort()); the
//    coroutine always ends finished and failed. throw_exception() closes it instead (see there);
//    finish(v) from outside closes it the same way and then succeeds with v.
//  * A coroutine that fails with an InProgressAborted or a subclass (it did not catch the abort
//    of what it awaited) is not reported as unhandled; any other failure nobody consumed is.
//  * Options (interval, policies, progress): wrap the coroutine function with kaa::coroutine()
//    (kaa/coroutine_policy.hpp).
//  * At loop shutdown (and at process exit, on the loop thread, even from a callback of the
//    running loop) suspended coroutines are unwound: an InProgressAborted is thrown at their
//    suspension point so their destructors run. A frame whose body runs is left as it is.
//  * C++ forbids co_await inside a catch handler: record the exception, await after it.
//
// Memory: one allocation per call (the frame, which also holds the InProgress state), served
// from a per-thread size-class free list (so none at all in steady state), refilled from a
// frame arena of 256 KiB regions: memory once used for frames stays ready for frames while the
// loop is busy, and goes back to the system when it idles after a spike
// (src/coroutine/frame_alloc.cpp). Releasing a chain of frames that hold each other (parameters
// holding the next coroutine) is iterative.
//
// Threads: coroutines run on the main-loop thread; create them there. abort(), throw_exception()
// and set_interval() from another thread are posted to it. An awaited InProgress finished from
// another thread resumes the coroutine on the loop thread.

#include <kaa/detail/coroutine_impl.hpp>
#include <kaa/inprogress.hpp>

#include <chrono>
#include <concepts>
#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

namespace kaa {

/// `co_await kaa::NotFinished`: give the main loop a time slice; resume in a later iteration
/// (after the coroutine's interval, if it has one).
struct NotFinished_t {
    explicit constexpr NotFinished_t() = default;
};
/// The value to co_await for a time slice (kaa's `yield kaa.NotFinished`).
inline constexpr NotFinished_t NotFinished{};

/// kaa's name for the InProgress a coroutine returns.
template <class T = void>
using CoroutineInProgress = Coroutine<T>;

/// The InProgress returned by a kaa coroutine; see the file comment of kaa/coroutine.hpp.
template <class T>
class Coroutine : public InProgress<T> {
public:
    /// The C++ coroutine machinery's promise (internal).
    using promise_type = detail::CoroutinePromise<T>;

    /// Whether the coroutine can still be resumed (false once finished, failed or aborted).
    /// Loop thread only.
    bool active() const { return !this->finished() && !base().aborted_; }
    /// The minimum delay before each resumption (0: resume as soon as possible). Loop thread
    /// only.
    std::chrono::nanoseconds interval() const {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(base().interval());
    }
    /// Sets the interval; a pending interval timer restarts with the new value. Thread-safe:
    /// posted to the loop thread.
    void set_interval(std::chrono::nanoseconds d) {
        base().set_interval(std::chrono::duration_cast<detail::Duration>(d));
    }

    /// Aborts the coroutine ([coro.abort]): throws std::runtime_error if it finished or
    /// is not abortable; otherwise aborts the awaited InProgress if it is abortable and nothing
    /// else listens to it, then throws InProgressAborted at the suspension point (inprogress() =
    /// what it awaited, or empty at NotFinished; origin() = this). If the body does not catch
    /// it, abort() rethrows it; if the body awaits again, abort() throws std::runtime_error.
    /// Either way the coroutine ends finished and failed with the InProgressAborted.
    /// Thread-safe: posted to the loop thread (returns at once; an error there is reported, an
    /// uncaught InProgressAborted is the coroutine's outcome; docs/semantics.md [core.thread.2]).
    void abort() {
        if (!detail::on_loop_thread()) {
            this->post_abort_from_thread([self = *this]() mutable { self.abort(); });
            return;
        }
        base().abort_coroutine(
            std::make_exception_ptr(InProgressAborted("Coroutine aborted", *this, *this)));
    }
    /// Aborts with `exc` (its origin is set to this coroutine if empty). Thread-safe, as abort().
    void abort(const InProgressAborted& exc) {
        if (!detail::on_loop_thread()) {
            this->post_abort_from_thread(
                [self = *this, e = exc.clone_ptr()]() mutable { self.base().abort_coroutine(e); });
            return;
        }
        base().abort_coroutine(exc.clone_ptr());
    }

    /// Closes a running coroutine from outside: its cleanup runs and it fails with `error`.
    /// Throws std::runtime_error if it already finished. (finish(v) closes it the same way
    /// and then succeeds with v: docs/semantics.md [coro.close.2].) Thread-safe: posted to the
    /// loop thread (an error there is reported).
    Coroutine& throw_exception(std::exception_ptr error) {
        base().close_with(std::move(error));
        return *this;
    }
    /// As throw_exception(std::exception_ptr), with an exception object.
    template <class E>
        requires(!std::same_as<std::decay_t<E>, std::exception_ptr>)
    Coroutine& throw_exception(E&& error) {
        return throw_exception(std::make_exception_ptr(std::forward<E>(error)));
    }

private:
    friend struct detail::Access;

    /// The frame's bookkeeping.
    detail::CoroutineBase& base() const { return static_cast<promise_type&>(this->state()); }
    /// Keeps `p` alive as long as the frame (lambda captures, policy state).
    void keep_alive(std::shared_ptr<void> p) { base().rare().keepalive = std::move(p); }

    /// The handle of an InProgress known to belong to a Coroutine<T>.
    Coroutine(const InProgress<T>& ip, detail::AdoptCoroutine) : InProgress<T>(ip) {}

    friend class detail::CoroutinePromiseCommon<T>;
    friend struct detail::CoroutinePromiseCommon<T>::ReturnProxy;
    explicit Coroutine(detail::StateBase* s) : InProgress<T>(nullptr) { this->s_ = s; }
};

/// @cond INTERNAL
template <class T>
detail::CoroutinePromiseCommon<T>::ReturnProxy::operator Coroutine<T>() const {
    // A coroutine that ended before its call returned (in the eager first step, or resumed
    // inside its first co_await) kept its own reference for this handle (finish_frame); one
    // that still runs keeps its reference and the handle needs another.
    promise->returned_ = true;
    if (!promise->done_) promise->add_ref();
    return Coroutine<T>(promise);
}

template <class T>
detail::NotFinishedAwaiter detail::CoroutinePromiseCommon<T>::await_transform(
    NotFinished_t KAA_DETAIL_AWAIT_SITE_DEF) {
    KAA_DETAIL_NOTE_AWAIT();
    return NotFinishedAwaiter{this};
}
/// @endcond

}  // namespace kaa

// kaa::coroutine() and its options. Included last: kaa/coroutine_policy.hpp includes this header
// and needs Coroutine<T> defined.
#include <kaa/coroutine_policy.hpp>

#pragma GCC visibility pop
