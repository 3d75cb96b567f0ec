// InProgressBase and InProgressAborted.

#include "main_internal.hpp"

#include <kaa/inprogress.hpp>

namespace kaa {

// ---------------------------------------------------------------- InProgressBase

void InProgressBase::abort() {
    if (!detail::on_loop_thread()) {
        // The exception is made there too: it touches the state (its weak reference).
        post_abort_from_thread([self = *this]() mutable { self.abort(); });
        return;
    }
    abort(InProgressAborted("InProgress task aborted by abort()", *this, InProgressBase{}));
}

void InProgressBase::abort(const InProgressAborted& exc) {
    if (!detail::on_loop_thread()) {
        post_abort_from_thread([self = *this, e = exc.clone_ptr()]() mutable { self.abort(e); });
        return;
    }
    state().abort(exc.clone_ptr());
}

void InProgressBase::abort(std::exception_ptr exc) {
    // [ip.abort.2]: checked here, not later, where rethrowing a null pointer is undefined.
    if (!exc) throw std::invalid_argument("kaa: abort() with a null exception_ptr");
    if (!holds<InProgressAborted>(exc)) {
        throw std::invalid_argument(
            "kaa: exception must be an instance of InProgressAborted (or subclass thereof)");
    }
    if (!detail::on_loop_thread()) {
        post_abort_from_thread([self = *this, exc]() mutable { self.abort(exc); });
        return;
    }
    state().abort(std::move(exc));
}

void InProgressBase::post_abort_from_thread(detail::Task abort) const {
    (void)state();  // an empty handle throws here, on the calling thread
    post_from_thread(
        [abort = std::move(abort)]() mutable {
            try {
                abort();  // on the loop thread: the state's own abort (coroutine, call, delay ...)
            } catch (const InProgressAborted&) {
                // What a coroutine did not catch is its outcome (it failed with it): abort()
                // rethrows it to its caller, which is not there to take it ([core.thread.2]).
            }
        },
        "Exception in abort() called from another thread");
}

void InProgressBase::throw_exception(std::exception_ptr error) {
    if (!error) throw std::invalid_argument("kaa: throw_exception() with a null exception_ptr");
    if (!detail::on_loop_thread()) {
        post_from_thread([self = *this, error]() mutable { self.throw_exception(error); });
        return;
    }
    state().throw_exception(std::move(error));
}

void InProgressBase::post_from_thread(detail::Task task, const char* context) {
    detail::post_to_loop([task = std::move(task), context]() mutable {
        try {
            task();
        } catch (const BaseException&) {
            throw;
        } catch (...) {
            report_exception(std::current_exception(), context);
        }
    });
}

void InProgressBase::check_result() const {
    detail::StateBase& s = state();
    switch (s.status()) {
        case detail::StateBase::pending:
            throw std::runtime_error("kaa: operation not finished");
        case detail::StateBase::failed:
            s.handled_ = true;
            std::rethrow_exception(s.error_);
        case detail::StateBase::succeeded:
            break;
    }
}

namespace {
/// While alive, a no-op result listener on the state: kaa's wait() connects a dummy listener so
/// that lazy InProgressAny/All subscribe to their sub-InProgresses (docs/semantics.md [ip.wait.2]).
/// Loop thread only.
class DummyListener {
public:
    explicit DummyListener(detail::StateBase& s) : s_(&s) {
        if (!s.watches_listeners_ || s.finished()) return;
        auto* l = new detail::FnListener([](detail::StateBase&) { return true; },
                                         detail::ListenKind::result);
        l->id = detail::next_listener_id();
        id_ = l->id;
        s.add_listener(l);
    }
    ~DummyListener() {
        if (id_ && !s_->finished()) s_->remove_listener(id_);
    }
    DummyListener(const DummyListener&) = delete;
    DummyListener& operator=(const DummyListener&) = delete;

private:
    detail::StateBase* s_;
    std::uint64_t id_ = 0;
};
}  // namespace

void InProgressBase::wait_finished(std::optional<std::chrono::nanoseconds> timeout) const {
    detail::StateBase& s = state();
    std::optional<detail::Duration> t;
    if (timeout) t = std::chrono::duration_cast<detail::Duration>(*timeout);
    if (!s.finished()) {
        if (detail::on_loop_thread()) {
            InProgressBase keep = *this;
            DummyListener dummy(s);
            detail::loop_while([&s] { return !s.finished(); }, t);
        } else {
            // The dummy listener must be added on the loop thread; it lives until the state
            // finishes (then it is dropped with the other listeners) or the wait gave up.
            std::shared_ptr<std::uint64_t> dummy_id;
            if (s.watches_listeners_) {
                dummy_id = std::make_shared<std::uint64_t>(0);
                detail::post_to_loop([self = *this, dummy_id] {
                    auto& st = self.state();
                    if (st.finished()) return;
                    auto* l = new detail::FnListener([](detail::StateBase&) { return true; },
                                                     detail::ListenKind::result);
                    l->id = detail::next_listener_id();
                    *dummy_id = l->id;
                    st.add_listener(l);
                });
            }
            bool done = detail::block_until([&s] { return s.finished(); }, t);
            if (!done && dummy_id) {
                detail::post_to_loop([self = *this, dummy_id] {
                    if (*dummy_id && !self.finished()) self.state().remove_listener(*dummy_id);
                });
            }
        }
    }
    if (!s.finished()) {
        // The same wording and unit as timeout()'s TimeoutException (detail/inprogress_impl.hpp).
        char text[96];
        std::snprintf(
            text, sizeof text, "InProgress wait() timed out after %.02f seconds",
            std::chrono::duration<double>(timeout.value_or(std::chrono::nanoseconds{0})).count());
        throw TimeoutException(text, *this, *this);
    }
    check_result();
}

std::shared_ptr<InProgressStatus> InProgressBase::progress() const {
    auto* x = state().extra_if();
    return x ? x->progress : nullptr;
}

void InProgressBase::set_progress(std::shared_ptr<InProgressStatus> status) {
    state().extra().progress = std::move(status);
}

// ---------------------------------------------------------------- InProgressAborted

InProgressAborted::InProgressAborted(std::string message) : BaseException(std::move(message)) {}

InProgressAborted::InProgressAborted(std::string message, const InProgressBase& inprogress,
                                     const InProgressBase& origin)
    : BaseException(std::move(message)),
      inprogress_(inprogress.valid() ? &detail::Access::state(inprogress) : nullptr),
      origin_(origin.valid() ? &detail::Access::state(origin) : nullptr) {}

InProgressBase InProgressAborted::inprogress() const {
    return detail::Access::adopt<InProgressBase>(inprogress_.lock());
}

InProgressBase InProgressAborted::origin() const {
    return detail::Access::adopt<InProgressBase>(origin_.lock());
}

std::exception_ptr InProgressAborted::clone_ptr() const { return std::make_exception_ptr(*this); }

namespace {
/// The copy clone_ptr() made, for the library to fill in before anyone else sees it.
InProgressAborted& copied(const std::exception_ptr& copy) {
    auto* e = detail::peek_exception<InProgressAborted>(copy);
    if (!e) throw std::logic_error("kaa: clone_ptr() must return a copy of the same exception");
    return *e;
}
detail::StateBase* state_or_null(const InProgressBase& ip) {
    return ip.valid() ? &detail::Access::state(ip) : nullptr;
}
}  // namespace

std::exception_ptr InProgressAborted::retarget(const InProgressBase& inprogress) const {
    std::exception_ptr copy = clone_ptr();
    copied(copy).inprogress_ = detail::WeakState(state_or_null(inprogress));
    return copy;
}

std::exception_ptr InProgressAborted::with_origin(const InProgressBase& origin) const {
    std::exception_ptr copy = clone_ptr();
    copied(copy).origin_ = detail::WeakState(state_or_null(origin));
    return copy;
}

namespace detail {
std::exception_ptr abort_delivered_to(const std::exception_ptr& exc, StateBase* target,
                                      StateBase* origin_if_unset) {
    const auto* e = peek_exception<const InProgressAborted>(exc);
    if (!e) return exc;
    const bool retarget = !e->inprogress_.refers_to(target) &&
                          !(target == nullptr && e->inprogress_.empty());
    const bool set_origin = origin_if_unset && !e->origin_.alive();
    if (!retarget && !set_origin) return exc;
    std::exception_ptr copy = e->clone_ptr();
    InProgressAborted& c = copied(copy);
    if (retarget) c.inprogress_ = WeakState(target);
    if (set_origin) c.origin_ = WeakState(origin_if_unset);
    return copy;
}

std::exception_ptr abort_as_failed_or_delivered(const std::exception_ptr& exc, StateBase* target) {
    if (target && target->status() == StateBase::failed) {
        const auto* failed = peek_exception<const InProgressAborted>(target->error_);
        const auto* e = peek_exception<const InProgressAborted>(exc);
        if (failed && e && failed->inprogress_.refers_to(target) &&
            failed->origin_.same_as(e->origin_)) {
            return target->error_;
        }
    }
    return abort_delivered_to(exc, target, nullptr);
}
}  // namespace detail

}  // namespace kaa
