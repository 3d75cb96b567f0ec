// Coroutine frames: abort and close, resumption scheduling, frame allocation and destruction,
// and the policy state store of kaa::coroutine().
//
// Threads: everything here runs on the main-loop thread (set_interval() and close_with() from
// another thread are posted to it); the allocator's free lists and the destruction queue are
// per thread.

#include <kaa/coroutine.hpp>

#include <array>
#include <coroutine>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <new>
#include <string>
#include <typeinfo>
#include <vector>

namespace kaa::detail {

thread_local constinit NextCoroutineSetup t_next_setup;

bool is_exact_abort(const std::exception_ptr& e) noexcept {
    const auto* a = peek_exception<const InProgressAborted>(e);
    return a && typeid(*a) == typeid(InProgressAborted);
}

// ---------------------------------------------------------------- CoroutineBase

namespace {
InProgressBase strong(StateBase* s) { return detail::Access::share<InProgressBase>(s); }
}  // namespace

void CoroutineBase::arm_interval() {
    std::unique_ptr<IntervalTimer>& t = rare().timer;
    if (!t) {
        t = std::make_unique<IntervalTimer>();
        t->owner = this;
        t->fire = [](TimerNode* n) {
            CoroutineBase* co = static_cast<IntervalTimer*>(n)->owner;
            co->rare_->grid = n->due;
            co->rare_->on_grid = true;
            co->resume_now();
        };
        static const bool named =
            (name_timers(t->fire,
                         [](const TimerNode* n) {
                             return "the interval timer of " +
                                    debug_coroutine_name(
                                        static_cast<const IntervalTimer*>(n)->owner);
                         }),
             true);
        (void)named;
    }
    const Clock::time_point now = refresh_now();
    const Duration iv = rare_->interval;
    Clock::time_point due = now + iv;
    if (rare_->on_grid) {
        // [coro.resume.3] A fixed rate, as kaa's step timer: due one interval after the previous
        // resumption was due, not after this suspension; missed periods are skipped.
        rare_->on_grid = false;
        due = rare_->grid + iv;
        if (due <= now) due = rare_->grid + ((now - rare_->grid) / iv + 1) * iv;
    }
    timer_arm(t.get(), due);
}

void CoroutineBase::set_interval(Duration d) {
    if (d < Duration::zero()) throw std::invalid_argument("kaa: negative coroutine interval");
    if (!on_loop_thread()) {
        InProgressBase keep = strong(self_);
        post_to_loop([keep, this, d] { set_interval(d); });
        return;
    }
    if (d > Duration::zero() || rare_) rare().interval = d;
    if (rare_) rare_->on_grid = false;  // a new interval starts a new grid
    // kaa restarts the step timer with the new interval iff it is active, i.e. the coroutine
    // waits to resume after NotFinished (or after an awaited InProgress, with an interval).
    if (done_) return;
    if (IntervalTimer* t = timer(); t && t->armed()) {
        if (d > Duration::zero()) {
            timer_arm(t, refresh_now() + d);
        } else {
            timer_cancel(t);
            queue_ready();
        }
    } else if (ready_queued_ && d > Duration::zero()) {
        ++resume_gen_;  // drops the queued resumption
        ready_queued_ = false;
        arm_interval();
    }
}

void CoroutineBase::on_prerequisite_done() {
    StateBase* awaited = awaiting_;
    awaiting_ = nullptr;
    awaiting_node_ = nullptr;
    if (interval() > Duration::zero()) {
        rare_->resumed_from = strong(awaited);  // an abort before the timer fires names it
        rare_->on_grid = false;                 // the interval counts from this finish
        arm_interval();
    } else {
        resume_soon(awaited);
    }
}

void CoroutineBase::resume_soon(StateBase* awaited) {
    run_bounded([this] { resume_now(); },
                [this, awaited] {
                    if (awaited) rare().resumed_from = strong(awaited);
                    InProgressBase keep = strong(self_);
                    return Task([keep = std::move(keep), this, gen = resume_gen_] {
                        if (gen == resume_gen_ && !done_) resume_now();
                    });
                });
}

void CoroutineBase::suspend_not_finished() {
    note_suspended();
    if (interval() > Duration::zero()) {
        arm_interval();
        return;
    }
    queue_ready();
}

void CoroutineBase::queue_ready() {
    if (rare_) rare_->on_grid = false;
    InProgressBase keep = strong(self_);
    ready_queued_ = true;
    schedule_ready([keep = std::move(keep), this, gen = resume_gen_] {
        if (gen != resume_gen_ || done_) return;
        ready_queued_ = false;
        resume_now();
    });
}

void CoroutineBase::start_deferred() {
    if (!deferred_ || done_ || aborted_) return;
    first_step_ = false;
    resume_soon();
}

bool CoroutineBase::fail_at_end() {
    StateBase& s = *self_;
    const std::exception_ptr abort_exc = rare_ ? rare_->abort_exc : nullptr;  // set by abort/close
    if (closing_) {
        // Closed by finish(v): the caller stores v once the frame is unwound ([coro.close.2]).
        if (!abort_exc) return true;
        // As InProgress::throw_exception: an InProgressAborted thrown in notifies the abort
        // listeners (after the exception listeners) and then counts as handled.
        s.fail_thrown(abort_exc);
        return true;
    }
    if (aborted_) {
        // [coro.abort.8]/[coro.abort.9]: the abort listeners are called exactly once and the InProgress always
        // ends failed with the abort exception, which is never reported as unhandled.
        try {
            s.emit_abort(abort_exc);
#ifdef KAA_FUZZ_PLANTED_BUG
            // Only in `make fuzz FUZZ_PLANTED_BUG=ON` (fuzz/CMakeLists.txt): a known bug that
            // fuzz_model must find. A coroutine aborted by a timeout() calls its abort
            // listeners twice.
            if (holds<TimeoutException>(abort_exc)) s.emit_abort(abort_exc);
#endif
        } catch (const BaseException&) {
        }
        s.handled_ = true;
        s.fail(abort_exc);
        return true;
    }
    if (body_error_) {
        std::exception_ptr e = std::move(body_error_);
        body_error_ = nullptr;
        // A coroutine that ends with an InProgressAborted (it did not catch the abort of
        // something it awaited) is not reported as unhandled: an abort is not an error. Any
        // subclass too, such as TimeoutException (kaa exempted exactly InProgressAborted):
        // StateBase::finalize() never reports an abort ([ip.handled.4]).
        if (is_exact_abort(e)) s.handled_ = true;
        s.fail(std::move(e));
        return true;
    }
    return false;
}

void CoroutineBase::abort_coroutine(std::exception_ptr exc) {
    if (!exc) throw std::invalid_argument("kaa: abort() with a null exception_ptr");
    StateBase& s = *self_;
    if (closed_at_shutdown_) return;  // the loop's shutdown is ending it ([coro.life.3])
    if (done_ || s.finished()) throw std::runtime_error("kaa: abort(): coroutine already finished");
    if (aborted_) throw std::runtime_error("kaa: abort(): coroutine is already being aborted");
    if (!s.abortable()) throw_not_abortable(s, "coroutine");
    if (!suspended_ && !deferred_) {
        throw std::runtime_error("kaa: a coroutine cannot abort itself while it runs");
    }
    InProgressBase me = strong(self_);
    if (abort_deferred_if_deep(s, exc)) return;
    AbortNesting nesting;

    // The origin is the coroutine abort() was first called on.
    const auto* abort_exc = peek_exception<const InProgressAborted>(exc);
    if (!abort_exc) {
        throw std::invalid_argument(
            "kaa: exception must be an instance of InProgressAborted (or subclass thereof)");
    }
    if (!abort_exc->origin().valid()) exc = abort_exc->with_origin(me);

    // From here on the coroutine counts as aborted: a re-entrant abort() or throw_exception()
    // (from a listener of what the cascade below aborts) is refused, and nothing resumes it
    // except the abort itself.
    aborted_ = true;
    cancel_pending_resumption();

    // Detach from what we await; abort it only if nothing else waits on it ([coro.abort.4]).
    // When that is a coroutine that awaits in turn, the cascade goes on down the chain in this
    // loop, not by recursion (a million-link chain would overflow the stack): each link is
    // detached and marked aborted as its own abort() would, outermost first; then the links
    // are resumed with their exceptions innermost first, each one's uncaught InProgressAborted
    // being its own outcome, as if abort() had recursed. `below` holds the links under this
    // one (and their handles); it stays empty (no allocation) unless the cascade reaches one.
    struct Link {
        InProgressBase ip;
        CoroutineBase* co;
        std::exception_ptr delivered;
    };
    std::vector<Link> below;
    std::exception_ptr delivered;
    // What this coroutine awaited, held until its body has seen the abort: the exception names
    // it only weakly (e.inprogress()), and nothing else may hold it (a delay()).
    InProgressBase awaited;
    for (CoroutineBase* co = this;;) {
        InProgressBase prereq;
        CoroutineBase* next = nullptr;
        if (co->awaiting_) {
            prereq = strong(co->awaiting_);
            co->awaiting_->unlink_listener(co->awaiting_node_);
            co->awaiting_ = nullptr;
            co->awaiting_node_ = nullptr;
            if (!prereq.finished() && prereq.count() == 0 && prereq.abortable()) {
                // A coroutine that its abort_coroutine() would accept (finished, already
                // aborted or running ones refuse: prereq.abort() below throws and is reported).
                next = dynamic_cast<CoroutineBase*>(&Access::state(prereq));
                if (next &&
                    (next->done_ || next->aborted_ || (!next->suspended_ && !next->deferred_))) {
                    next = nullptr;
                }
                if (!next) {
                    try {
                        prereq.abort(exc);
                    } catch (const InProgressAborted&) {
                        // The awaited InProgress did not catch it: that is its outcome, not ours.
                    } catch (...) {
                        report_exception(std::current_exception(), "Exception while aborting");
                    }
                }
            }
        }
        if (!prereq.valid() && co->rare_ && co->rare_->resumed_from) {
            // What it awaited finished; its resumption is still to come ([coro.abort.6]).
            prereq = co->rare_->resumed_from;
        }
        std::exception_ptr d =
            abort_as_failed_or_delivered(exc, prereq.valid() ? &Access::state(prereq) : nullptr);
        (co == this ? delivered : below.back().delivered) = std::move(d);
        if (co == this) awaited = prereq;
        if (!next) break;
        below.push_back({std::move(prereq), next, nullptr});
        next->aborted_ = true;
        next->cancel_pending_resumption();
        co = next;
    }
    while (!below.empty()) {
        Link& l = below.back();
        CoroutineBase* co = l.co;
        co->rare().abort_exc = l.delivered;
        co->rare_->pending_abort = std::move(l.delivered);
        co->resume_now();
        if (co->body_error_) {
            std::exception_ptr e = std::move(co->body_error_);
            co->body_error_ = nullptr;
            // What its abort() would have thrown: an InProgressAborted is its own outcome.
            if (!holds_abort(e)) report_exception(e, "Exception while aborting");
        }
        below.pop_back();
    }

    rare().abort_exc = delivered;
    rare_->pending_abort = delivered;
    resume_now();  // the body runs to its end (any further co_await throws)

    if (body_error_) {
        std::exception_ptr e = std::move(body_error_);
        body_error_ = nullptr;
        std::rethrow_exception(e);
    }
}

namespace {
/// Thrown at the suspension point of a coroutine closed by throw_exception() from outside.
class CoroutineClosed : public BaseException {
public:
    CoroutineClosed() : BaseException("coroutine closed") {}
};
}  // namespace

void CoroutineBase::close_with(std::exception_ptr error) {
    // [coro.close.1]: as [ip.throw.1], before anything is posted or changed.
    if (!error) throw std::invalid_argument("kaa: throw_exception() with a null exception_ptr");
    if (!on_loop_thread()) {
        InProgressBase keep = strong(self_);
        post_to_loop([keep, this, error] {
            // As a finish() from another thread ([core.thread.2]): an error is reported, not
            // thrown into the loop.
            try {
                close_with(error);
            } catch (const BaseException&) {
                throw;
            } catch (...) {
                report_exception(std::current_exception(),
                                 "Exception in finish() called from another thread");
            }
        });
        return;
    }
    if (!error) throw std::invalid_argument("kaa: throw_exception() with a null exception_ptr");
    close_now(std::move(error), "throw_exception()");
}

void CoroutineBase::close_to_finish() { close_now(nullptr, "finish()"); }

void CoroutineBase::close_now(std::exception_ptr error, const char* op) {
    if (done_ || self_->finished()) {
        throw std::runtime_error(std::string("kaa: ") + op + ": coroutine already finished");
    }
    if (aborted_) {
        throw std::runtime_error(std::string("kaa: ") + op +
                                 ": coroutine is already being aborted or closed");
    }
    if (!suspended_ && !deferred_) {
        throw std::runtime_error("kaa: a coroutine cannot be closed while it runs");
    }
    InProgressBase me = strong(self_);
    if (awaiting_) {
        awaiting_->unlink_listener(awaiting_node_);
        awaiting_ = nullptr;
        awaiting_node_ = nullptr;
    }
    cancel_pending_resumption();
    aborted_ = true;
    closing_ = true;
    rare().abort_exc = std::move(error);
    rare_->pending_abort = std::make_exception_ptr(CoroutineClosed());
    resume_now();
    body_error_ = nullptr;  // whatever the body threw while closing is superseded
}

void CoroutineBase::take_next_setup() {
    const NextCoroutineSetup setup = t_next_setup;
    t_next_setup = NextCoroutineSetup{};
    deferred_ = setup.defer;
    if (setup.interval > Duration::zero()) rare().interval = setup.interval;
}

void CoroutineBase::unwind_hook(ActiveNode* n, UnwindPhase phase) noexcept {
    auto* co = static_cast<CoroutineBase*>(n);
    if (phase == UnwindPhase::detach) {
        co->shutdown_detach();
    } else {
        co->shutdown_end();
    }
}

namespace {
std::exception_ptr shutdown_exception(const InProgressBase& me) {
    return std::make_exception_ptr(InProgressAborted("kaa: main loop shut down", me, me));
}
}  // namespace

void CoroutineBase::shutdown_detach() noexcept {
    // [coro.life.3] A frame whose body runs (the loop was stopped from inside it, or it waits in
    // a nested wait()) is left to finish by itself.
    if (done_ || aborted_ || (!suspended_ && !deferred_)) return;
    aborted_ = true;  // never resumed again, and abort()/throw_exception() are refused
    closed_at_shutdown_ = true;
    cancel_pending_resumption();
    if (!awaiting_) return;
    InProgressBase prereq = strong(awaiting_);
    awaiting_->unlink_listener(awaiting_node_);
    awaiting_ = nullptr;
    awaiting_node_ = nullptr;
    // [coro.abort.4] What it awaited is aborted if nothing else waits for it; a suspended
    // coroutine is left to its own turn of the shutdown (it is in the registry too).
    if (prereq.finished() || prereq.count() != 0 || !prereq.abortable()) return;
    if (auto* co = dynamic_cast<CoroutineBase*>(&Access::state(prereq));
        co && (co->suspended_ || co->deferred_)) {
        return;
    }
    try {
        prereq.abort(shutdown_exception(strong(self_)));
    } catch (const InProgressAborted&) {
        // The awaited InProgress did not catch it: its own outcome.
    } catch (...) {
        report_exception(std::current_exception(), "Exception while aborting");
    }
}

void CoroutineBase::shutdown_end() noexcept {
    if (!closed_at_shutdown_ || done_) return;
    StateBase& s = *self_;
    std::exception_ptr exc;
    try {
        InProgressBase me = strong(self_);
        exc = shutdown_exception(me);
    } catch (...) {
        report_exception(std::current_exception(), "Exception while ending a coroutine");
        return;
    }
    if (!s.sole_reference()) {
        // Held elsewhere (a handle, maybe the frame's own): unwound now, as abort() does; the
        // body runs to its end and the InProgress fails with what it let through.
        rare().abort_exc = exc;
        rare_->pending_abort = std::move(exc);
        resume_now();
        body_error_ = nullptr;  // an abort or whatever the cleanup threw: not reported
        return;
    }
    mark_done(false);  // suspended: not running
    try {
        // [coro.abort.9] The abort listeners are called once; an abort is never reported.
        try {
            s.emit_abort(exc);
        } catch (const BaseException&) {
        }
        s.handled_ = true;
        if (!s.finished()) s.fail(std::move(exc));
    } catch (...) {
        report_exception(std::current_exception(), "Exception while ending a coroutine");
    }
    s.release();  // the frame's own and last reference: destroys the frame
}

}  // namespace kaa::detail

// ---------------------------------------------------------------- policy state store

namespace kaa::detail {

namespace {
using PolicyStore = std::map<PolicyKey, std::shared_ptr<PolicyState>>;
PolicyStore& policy_store() {
    static auto* store = new PolicyStore();  // never destroyed: frames may outlive main()
    return *store;
}
}  // namespace

std::shared_ptr<PolicyState> policy_state(const PolicyKey& key) {
    auto& store = policy_store();
    auto it = store.find(key);
    if (it != store.end()) return it->second;
    return std::make_shared<PolicyState>();
}

void policy_state_attach(const PolicyKey& key, const std::shared_ptr<PolicyState>& st) {
    // Normally a no-op; re-stores `st` if its last call ended while this call ran (the store
    // dropped it). A state created meanwhile by a nested call is left alone.
    policy_store().try_emplace(key, st);
}

void policy_state_release(const PolicyKey& key, const PolicyState* st) {
    auto& store = policy_store();
    auto it = store.find(key);
    if (it != store.end() && it->second.get() == st && st->calls.empty()) store.erase(it);
}

}  // namespace kaa::detail
