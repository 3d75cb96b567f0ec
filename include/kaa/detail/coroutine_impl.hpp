#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// The machinery of kaa::Coroutine<T> (internal): promise, awaiters, abort. Coroutine<T> and
// NotFinished are defined in kaa/coroutine.hpp (with the two promise members that need them
// complete); frames are allocated by detail/frame_alloc.hpp (src/coroutine/frame_alloc.cpp).
//
// States of a coroutine frame (CoroutineBase):
//   running      — body executing (eager first step: first_step_ set)
//   suspended    — at NotFinished (ready_queued_: in the ready queue; or its interval timer
//                  armed) or awaiting an InProgress (awaiting_ names it; our Listener node is
//                  in its list), or between the awaited InProgress finishing and the
//                  resumption (interval timer armed, or queued behind the inline-depth bound)
//   deferred     — created by a SYNCHRONIZED policy, waiting at initial_suspend for its turn
//   aborting     — aborted_ set; any further co_await throws std::runtime_error
//   done         — reached final_suspend; the InProgress is finished; the frame lives on while
//                  handles exist (refs_ counts handles + 1 for the running frame itself)
//
// Lifetime: a frame is destroyed (CoroutinePromiseCommon::destroy()) when it is done and its
// last handle is released. Destroying a frame releases its parameters and locals, which may
// hold the last handle of another frame (a chain of coroutines each holding the next): the
// nested last releases are queued by StateBase::last_release() and run one after another by
// the outermost one, so the stack stays flat.

#include <kaa/detail/debug_aids.hpp>
#include <kaa/detail/frame_alloc.hpp>
#include <kaa/detail/loop.hpp>
#include <kaa/detail/state.hpp>
#include <kaa/errors.hpp>
#include <kaa/inprogress.hpp>

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace kaa {

/// `co_await kaa::NotFinished`; defined in kaa/coroutine.hpp.
struct NotFinished_t;
/// The InProgress returned by a kaa coroutine; defined in kaa/coroutine.hpp.
template <class T = void>
class Coroutine;

namespace detail {

/// Settings kaa::coroutine() hands to the next coroutine frame created on this thread (the
/// promise constructor consumes them): the interval, and whether it must wait at
/// initial_suspend until started (a queued POLICY_SYNCHRONIZED call).
struct NextCoroutineSetup {
    bool pending = false;
    bool defer = false;
    Duration interval{};
};
extern thread_local constinit NextCoroutineSetup t_next_setup;

/// True if `e` holds exactly an InProgressAborted (not a subclass such as TimeoutException).
bool is_exact_abort(const std::exception_ptr& e) noexcept;
/// True if `e` holds an InProgressAborted or a subclass.
inline bool holds_abort(const std::exception_ptr& e) noexcept {
    return holds<InProgressAborted>(e);
}

/// Tag: view an InProgress known to be a coroutine's as a Coroutine handle.
struct AdoptCoroutine {};
inline constexpr AdoptCoroutine adopt_coroutine{};

class CoroutineBase;

/// The interval timer of a coroutine (allocated only for interval > 0).
struct IntervalTimer : TimerNode {
    CoroutineBase* owner = nullptr;
};

/// The rarely needed part of a coroutine's bookkeeping, allocated on first use: what an abort
/// or close delivers, the interval timer, and data kept alive with the frame. Keeping it out of
/// the frame makes the common coroutine (awaits, returns) smaller and cheaper to set up.
struct CoroutineRare {
    std::exception_ptr pending_abort;      ///< thrown at the next resumption point
    std::exception_ptr abort_exc;          ///< what the InProgress fails with after abort/close
    Duration interval{};                   ///< minimum delay before each resumption
    std::unique_ptr<IntervalTimer> timer;  ///< allocated for interval > 0
    std::shared_ptr<void> keepalive;       ///< e.g. the lambda whose captures the body uses
    /// The awaited InProgress that finished while its resumption is still to come (interval
    /// timer, or deferred past the inline-depth bound): an abort names it ([coro.abort.6]).
    InProgressBase resumed_from;
    /// When the interval timer last fired: the step grid it was due on ([coro.resume.3]).
    Clock::time_point grid{};
    bool on_grid = false;  ///< resumed by the interval timer: the next NotFinished keeps its rate
};

/// The non-template half of a coroutine promise.
class CoroutineBase : public ActiveNode {
public:
    CoroutineBase(const CoroutineBase&) = delete;
    CoroutineBase& operator=(const CoroutineBase&) = delete;
    ~CoroutineBase() {
        if (IntervalTimer* t = timer()) timer_cancel(t);
        unregister_active(this);
#if KAA_DEBUG_AIDS_ON
        debug_forget(this);
#endif
#if KAA_CHECKS_INVARIANTS
        if (!done_) g_frame_counts.unfinished.fetch_sub(1, std::memory_order_relaxed);
#endif
    }
    explicit CoroutineBase(StateBase* self) : self_(self) {
        if (t_next_setup.pending) [[unlikely]]
            take_next_setup();
#if KAA_CHECKS_INVARIANTS
        g_frame_counts.unfinished.fetch_add(1, std::memory_order_relaxed);
        if (!deferred_) ++t_frames_running;  // the eager first step starts now
#endif
    }

    /// kaa's coroutine abort ([coro.abort]); throws to the caller what the body did not catch.
    void abort_coroutine(std::exception_ptr exc);
    /// Closes the coroutine from outside (throw_exception on a running coroutine): cleanup runs
    /// and the InProgress fails with `error`.
    void close_with(std::exception_ptr error);
    /// Closes it for finish(v) from outside ([coro.close.2]): cleanup runs and the InProgress is
    /// left pending for the caller to store v. Loop thread.
    void close_to_finish();
    /// Starts a deferred (SYNCHRONIZED) coroutine: at once, or (past the inline-depth bound)
    /// before the outermost finish() returns.
    void start_deferred();

    /// Called when an awaited InProgress finished.
    void on_prerequisite_done();
    /// Suspension at NotFinished.
    void suspend_not_finished();
    /// Resumes now, or — past the inline-depth bound — once the outermost inline resumption
    /// on this thread unwinds (still before the outermost finish() returns). `awaited`: the
    /// finished InProgress it resumes from, kept for an abort meanwhile.
    void resume_soon(StateBase* awaited = nullptr);
    /// Resumes the frame at once, on this stack.
    void resume_now() {
        KAA_INVARIANT(!done_, "a coroutine resumed after it ended");
        KAA_INVARIANT(!aborted_ || (rare_ && rare_->pending_abort),
                      "an aborted or closed coroutine resumed other than to see its abort");
#if KAA_CHECKS_INVARIANTS
        ++t_frames_running;  // until it suspends (note_suspended) or ends (mark_done)
#endif
        if (g_stall_armed) [[unlikely]] {
            resume_measured();  // the stall detector (kaa/debug.hpp) times this step
            return;
        }
        handle_.resume();
    }
    /// resume_now() as a unit the stall detector measures, named after the coroutine.
    void resume_measured();
    /// Joins the registry of suspended frames (unwound at loop shutdown). Done at the first
    /// suspension only: a coroutine that finishes in its eager first step never joins.
    void note_suspended() noexcept {
#if KAA_CHECKS_INVARIANTS
        --t_frames_running;
#endif
        first_step_ = false;
        suspended_ = true;
        if (!prev) register_active(this, &CoroutineBase::unwind_hook);
    }

    /// Throws if this aborted coroutine tries to suspend again (kaa: "expects reentry").
    void check_may_suspend() const {
        if (aborted_) {
            throw std::runtime_error(
                "kaa: co_await in an aborted coroutine: after an abort it may not suspend again "
                "(catching InProgressAborted does not undo the abort)");
        }
    }
    /// Throws the pending abort (or close) exception, if any.
    void throw_if_aborted() {
        if (rare_ && rare_->pending_abort) {
            std::exception_ptr e = std::move(rare_->pending_abort);
            rare_->pending_abort = nullptr;
            std::rethrow_exception(e);
        }
    }

    /// kaa's `active`: the coroutine can still be resumed.
    bool active() const noexcept { return !done_ && !aborted_; }
    /// The minimum delay before each resumption.
    Duration interval() const noexcept { return rare_ ? rare_->interval : Duration::zero(); }
    /// Sets the interval; a pending NotFinished resumption or interval timer restarts with it
    /// (kaa restarts its step timer iff it is active). From another thread: posted.
    void set_interval(Duration d);

    std::coroutine_handle<> handle_;
    StateBase* self_;
    StateBase* awaiting_ = nullptr;        ///< the awaited InProgress (the awaiter owns a ref)
    Listener* awaiting_node_ = nullptr;    ///< our node in its listener list
    std::exception_ptr body_error_;        ///< the body's uncaught exception
    std::unique_ptr<CoroutineRare> rare_;  ///< see CoroutineRare; null until needed
    std::uint32_t resume_gen_ = 0;         ///< invalidates queued resumptions
    bool first_step_ = true;
    /// The call returned its handle (ReturnProxy). Until then the frame's own reference is the
    /// one that handle takes over if the body ends first — also when it ends after suspending,
    /// resumed inside its first co_await (an Any/All that finishes as the coroutine subscribes).
    bool returned_ = false;
    bool deferred_ = false;
    bool aborted_ = false;
    bool closing_ = false;
    bool suspended_ = false;     ///< at a suspension point (not running, not deferred)
    bool ready_queued_ = false;  ///< at NotFinished with interval 0: queued in the ready queue
    bool done_ = false;
    bool closed_at_shutdown_ = false;  ///< detached at loop shutdown: to be ended ([coro.life.3])

    /// The registry's unwind function for coroutine frames: shutdown_detach(), shutdown_end().
    static void unwind_hook(ActiveNode* n, UnwindPhase phase) noexcept;
    /// Loop shutdown, first pass: a suspended (or queued) frame stops waiting and will never be
    /// resumed; what it awaited is aborted if nothing else waits for it.
    void shutdown_detach() noexcept;
    /// Loop shutdown, second pass: the InProgress fails with InProgressAborted("kaa: main loop
    /// shut down"). A frame nothing else holds is destroyed (its locals' destructors run);
    /// one a handle still refers to is unwound: the exception is thrown at its suspension
    /// point, so that its cleanup runs now and not whenever (if ever) that handle goes.
    void shutdown_end() noexcept;

    /// The rare part, allocated on first use.
    CoroutineRare& rare() {
        if (!rare_) rare_ = std::make_unique<CoroutineRare>();
        return *rare_;
    }
    /// The interval timer, if one was ever armed.
    IntervalTimer* timer() const noexcept { return rare_ ? rare_->timer.get() : nullptr; }
    /// Sets done_ (the frame ended); `running`: its body is on this thread's stack.
    void mark_done([[maybe_unused]] bool running) noexcept {
#if KAA_CHECKS_INVARIANTS
        g_frame_counts.unfinished.fetch_sub(1, std::memory_order_relaxed);
        if (running) --t_frames_running;
#endif
        done_ = true;
    }

protected:
    /// At final_suspend: leaves the registry and stops pending resumptions; then, if the
    /// coroutine was aborted, closed or failed, fails the InProgress (emitting abort listeners
    /// once for an abort) and returns true; else returns false and the caller stores success.
    bool complete_abnormally() {
        mark_done(true);
        if (!first_step_) {  // only a coroutine that suspended can have a resumption pending
            unregister_active(this);
            cancel_pending_resumption();
        }
        return (closing_ || aborted_ || body_error_) && fail_at_end();
    }
    /// Stops pending resumptions (ready queue, interval timer).
    void cancel_pending_resumption() noexcept {
        ++resume_gen_;
        ready_queued_ = false;
        if (IntervalTimer* t = timer()) timer_cancel(t);
    }

private:
    /// Consumes t_next_setup (kaa::coroutine()'s interval and deferred start).
    void take_next_setup();
    /// complete_abnormally() for a closed, aborted or failed body: fails the InProgress.
    bool fail_at_end();
    void arm_interval();
    void queue_ready();
    /// close_with() and close_to_finish() on the loop thread; `op` names the operation.
    void close_now(std::exception_ptr error, const char* op);
};

/// Awaiter for an InProgress<U> inside a kaa coroutine.
template <class U>
struct InProgressAwaiter : Listener {
    CoroutineBase* co;
    InProgress<U> ip;

    bool erased = false;  ///< awaiting an InProgressBase of unknown type: no value

    InProgressAwaiter(CoroutineBase* c, InProgress<U> p, bool type_erased = false)
        : co(c), ip(std::move(p)), erased(type_erased) {
        kind = ListenKind::both;
        fire = [](Listener* l, StateBase* s) -> bool {
            if (s) static_cast<InProgressAwaiter*>(l)->co->on_prerequisite_done();
            return false;  // the coroutine consumes a failure
        };
    }
    InProgressAwaiter(const InProgressAwaiter&) = delete;
    InProgressAwaiter& operator=(const InProgressAwaiter&) = delete;
    ~InProgressAwaiter() {
        // Unwound while suspended (loop shutdown): leave the awaited InProgress's list.
        if (co->awaiting_node_ == this) {
            co->awaiting_->unlink_listener(this);
            co->awaiting_ = nullptr;
            co->awaiting_node_ = nullptr;
        }
    }

    bool await_ready() {
        co->check_may_suspend();
        return ip.finished();
    }
    void await_suspend(std::coroutine_handle<>) {
        co->note_suspended();
        co->awaiting_ = &Access::state(ip);
        co->awaiting_node_ = this;
        Access::state(ip).add_listener(this);
    }
    // Inlined into the coroutine body, so that a throw from here has its cleanups in the body's
    // own landing pad: a separate frame with a cleanup costs the unwinder an _Unwind_Resume,
    // a second search of the stack (B8: about 9,000 instructions per aborted coroutine).
    [[gnu::always_inline]] decltype(auto) await_resume() {
        co->suspended_ = false;
        StateBase& s = Access::state(ip);
        if (co->rare_ || s.status() == StateBase::failed) [[unlikely]] {
            if (std::exception_ptr e = abort_or_failure()) std::rethrow_exception(std::move(e));
        }
        if constexpr (std::is_void_v<U>) {
            return;
        } else {
            return U(state_value<U>(s));
        }
    }

private:
    /// await_resume() off the common path: what to throw — a pending abort or close, or the
    /// failure of the awaited InProgress (marked handled; an abort retargeted to it,
    /// [coro.await.4]) — or null.
    [[gnu::noinline]] std::exception_ptr abort_or_failure() {
        if (co->rare_) {
            co->rare_->resumed_from = InProgressBase();
            if (co->rare_->pending_abort) return std::exchange(co->rare_->pending_abort, nullptr);
        }
        StateBase& s = Access::state(ip);
        if (s.status() != StateBase::failed) return nullptr;
        s.handled_ = true;
        // The coroutine sees an abort as an abort of what it awaited ([coro.await.4]).
        return abort_delivered_to(s.error_, &s, nullptr);
    }
};

/// Awaiter for NotFinished.
struct NotFinishedAwaiter {
    CoroutineBase* co;
    bool await_ready() {
        co->check_may_suspend();
        return false;
    }
    void await_suspend(std::coroutine_handle<>) { co->suspend_not_finished(); }
    void await_resume() {
        co->suspended_ = false;
        co->throw_if_aborted();
    }
};

/// initial_suspend: runs eagerly unless the coroutine was created deferred.
struct InitialAwaiter {
    CoroutineBase* co;
    bool await_ready() const noexcept { return !co->deferred_; }
    void await_suspend(std::coroutine_handle<>) const noexcept {
        co->first_step_ = false;
        // Unwound at loop shutdown like a suspended frame.
        if (!co->prev) register_active(co, &CoroutineBase::unwind_hook);
    }
    void await_resume() {
        co->deferred_ = false;
        co->throw_if_aborted();
    }
};

template <class T>
class CoroutinePromiseCommon : public State<T>, public CoroutineBase {
public:
    CoroutinePromiseCommon() : CoroutineBase(this) {
        // refs_ starts at 1: the frame's own reference while it runs.
        this->set_abortable(true);
        this->closes_on_finish_ = true;
    }

    static void* operator new(std::size_t size) { return frame_alloc(size); }
    static void operator delete(void* p, std::size_t size) noexcept { frame_free(p, size); }

    /// Converted to Coroutine<T> only when the eager first step returns (C++ converts the
    /// get_return_object() result lazily); if that step throws, no handle ever exists and the
    /// compiler destroys the frame while the exception propagates to the caller.
    struct ReturnProxy {
        CoroutinePromiseCommon* promise;
        operator Coroutine<T>() const;  // NOLINT(google-explicit-constructor)
    };
    ReturnProxy get_return_object();
    /// Finishes the InProgress at final_suspend, then drops the frame's own reference.
    void finish_frame() noexcept;

    InitialAwaiter initial_suspend() noexcept { return InitialAwaiter{this}; }

    struct FinalAwaiter {
        bool await_ready() const noexcept { return false; }
        template <class P>
        void await_suspend(std::coroutine_handle<P> h) const noexcept {
            h.promise().finish_frame();
        }
        void await_resume() const noexcept {}
    };
    FinalAwaiter final_suspend() noexcept { return {}; }

    void unhandled_exception() {
        if (first_step_ && !aborted_) {
            // Eager first step: the exception goes to the caller, nothing is reported, and
            // the compiler destroys the frame (no handle was made yet; see ReturnProxy).
            mark_done(true);
            unregister_active(this);
            throw;
        }
        body_error_ = std::current_exception();
    }

    // With the debug aids each await_transform() takes the place of the co_await as a default
    // argument (evaluated at the call site) and records it for kaa::debug::pending(). Without
    // them the parameter does not exist: GCC keeps the temporaries of a co_await expression in
    // the coroutine frame, so even an unused argument would cost stores on every await.
#if KAA_DEBUG_AIDS_ON
#define KAA_DETAIL_AWAIT_SITE , SourceSite site = SourceSite::current()
#define KAA_DETAIL_AWAIT_SITE_DEF , SourceSite site
#define KAA_DETAIL_NOTE_AWAIT() debug_note_await(this, site)
#else
#define KAA_DETAIL_AWAIT_SITE
#define KAA_DETAIL_AWAIT_SITE_DEF
#define KAA_DETAIL_NOTE_AWAIT() static_cast<void>(0)
#endif
    template <class U>
    auto await_transform(const InProgress<U>& ip KAA_DETAIL_AWAIT_SITE) {
        KAA_DETAIL_NOTE_AWAIT();
        return InProgressAwaiter<U>(this, ip);
    }
    template <class U>
    auto await_transform(InProgress<U>&& ip KAA_DETAIL_AWAIT_SITE) {
        KAA_DETAIL_NOTE_AWAIT();
        return InProgressAwaiter<U>(this, std::move(ip));
    }
    /// Defined in kaa/coroutine.hpp.
    NotFinishedAwaiter await_transform(NotFinished_t KAA_DETAIL_AWAIT_SITE);
    /// A type-erased InProgress (e.g. `last` of POLICY_PASS_LAST): waits, rethrows a failure.
    auto await_transform(const InProgressBase& ip KAA_DETAIL_AWAIT_SITE) {
        KAA_DETAIL_NOTE_AWAIT();
        return InProgressAwaiter<void>(this, detail::Access::from_base<InProgress<void>>(ip), true);
    }
    /// "coroutine <function> (<file>:<line>)" with the debug aids, else "coroutine".
    std::string describe() const override { return debug_coroutine_name(this); }

    void abort(std::exception_ptr exc) override { abort_coroutine(std::move(exc)); }
    void throw_exception(std::exception_ptr error) override { close_with(std::move(error)); }
    void close_for_finish() override { close_to_finish(); }

protected:
    void destroy() noexcept override;
};

// The promise constructors take the place of the coroutine's creation (the compiler constructs
// the promise with no arguments when no constructor takes the coroutine's parameters, and the
// default argument is evaluated there): with the debug aids, the function's name and place.
template <class T>
class CoroutinePromise final : public CoroutinePromiseCommon<T> {
public:
#if KAA_DEBUG_AIDS_ON
    CoroutinePromise(SourceSite site = SourceSite::current()) { debug_note_created(this, site); }
#endif
    template <class U>
        requires std::constructible_from<T, U&&>
    void return_value(U&& v) { this->value_.emplace(std::forward<U>(v)); }
};

template <>
class CoroutinePromise<void> final : public CoroutinePromiseCommon<void> {
public:
#if KAA_DEBUG_AIDS_ON
    CoroutinePromise(SourceSite site = SourceSite::current()) { debug_note_created(this, site); }
#endif
    void return_void() noexcept {}
};

template <class T>
void CoroutinePromiseCommon<T>::destroy() noexcept {
    // Only ever called by StateBase::last_release(), which queues the releases this
    // destruction causes (the frame's parameters and locals may hold the last handle of
    // another frame): a long chain of frames unwinds iteratively, not recursively.
    handle_.destroy();
}

template <class T>
void CoroutinePromiseCommon<T>::finish_frame() noexcept {
    StateBase* self = this;
    try {
        if (!complete_abnormally()) {
            this->set_status(StateBase::succeeded);
            this->StateBase::complete();
        }
    } catch (...) {
        report_exception(std::current_exception(), "Exception while finishing a coroutine");
    }
    // The frame's own reference; may destroy the frame (it is suspended). Finished before the
    // call returned, that reference becomes the returned handle's (ReturnProxy) instead.
    if (returned_) self->release();
}

}  // namespace detail

template <class T>
typename detail::CoroutinePromiseCommon<T>::ReturnProxy
detail::CoroutinePromiseCommon<T>::get_return_object() {
    handle_ = std::coroutine_handle<CoroutinePromise<T>>::from_promise(
        static_cast<CoroutinePromise<T>&>(*this));
    return ReturnProxy{this};
}

}  // namespace kaa

#pragma GCC visibility pop
