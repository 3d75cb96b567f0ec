// InProgressBase, InProgressAborted and the unhandled-exception handler.

#include <kaa/inprogress.hpp>

#include <cxxabi.h>

#include <cstdio>
#include <mutex>
#include <typeinfo>

namespace kaa {

// ---------------------------------------------------------------- InProgressBase

void InProgressBase::abort() {
    abort(InProgressAborted("InProgress task aborted by abort()", *this, InProgressBase{}));
}

void InProgressBase::abort(const InProgressAborted& exc) { state().abort(exc.clone_ptr()); }

void InProgressBase::abort(std::exception_ptr exc) {
    try {
        std::rethrow_exception(exc);
    } catch (const InProgressAborted&) {
    } catch (...) {
        throw std::invalid_argument(
            "kaa: exception must be an instance of InProgressAborted (or subclass thereof)");
    }
    state().abort(std::move(exc));
}

void InProgressBase::throw_exception(std::exception_ptr error) {
    if (!error) throw std::invalid_argument("kaa: throw_exception() with a null exception_ptr");
    if (!detail::on_loop_thread()) {
        detail::post_to_loop([self = *this, error]() mutable { self.throw_exception(error); });
        return;
    }
    state().throw_exception(std::move(error));
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

void InProgressBase::wait_finished(std::optional<std::chrono::nanoseconds> timeout) const {
    detail::StateBase& s = state();
    std::optional<detail::Duration> t;
    if (timeout) t = std::chrono::duration_cast<detail::Duration>(*timeout);
    if (!s.finished()) {
        if (detail::on_loop_thread()) {
            detail::loop_while([&s] { return !s.finished(); }, t);
        } else {
            detail::block_until([&s] { return s.finished(); }, t);
        }
    }
    if (!s.finished()) throw TimeoutException("Timed out", *this, *this);
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
      inprogress_(inprogress.valid() ? &inprogress.state() : nullptr),
      origin_(origin.valid() ? &origin.state() : nullptr) {}

InProgressBase InProgressAborted::inprogress() const {
    return InProgressBase::adopt(inprogress_.lock());
}

InProgressBase InProgressAborted::origin() const { return InProgressBase::adopt(origin_.lock()); }

std::exception_ptr InProgressAborted::clone_ptr() const { return std::make_exception_ptr(*this); }

std::exception_ptr InProgressAborted::retarget(const InProgressBase& inprogress) const {
    std::exception_ptr copy = clone_ptr();
    try {
        std::rethrow_exception(copy);
    } catch (InProgressAborted& e) {
        e.inprogress_ = detail::WeakState(inprogress.valid() ? &inprogress.state() : nullptr);
    }
    return copy;
}

std::exception_ptr InProgressAborted::with_origin(const InProgressBase& origin) const {
    std::exception_ptr copy = clone_ptr();
    try {
        std::rethrow_exception(copy);
    } catch (InProgressAborted& e) {
        e.origin_ = detail::WeakState(origin.valid() ? &origin.state() : nullptr);
    }
    return copy;
}

// ---------------------------------------------------------------- unhandled exceptions

namespace {
std::mutex& handler_mutex() {
    static std::mutex m;
    return m;
}
UnhandledExceptionHandler& handler_slot() {
    static UnhandledExceptionHandler h;
    return h;
}

std::string demangle(const char* name) {
    int status = 0;
    char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    std::string out = (status == 0 && d) ? d : name;
    std::free(d);
    return out;
}
}  // namespace

std::string describe_exception(std::exception_ptr error) {
    if (!error) return "(no exception)";
    const std::type_info* type = abi::__cxa_current_exception_type();
    (void)type;
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return demangle(typeid(e).name()) + ": " + e.what();
    } catch (const BaseException& e) {
        return demangle(typeid(e).name()) + ": " + e.what();
    } catch (...) {
        const std::type_info* t = abi::__cxa_current_exception_type();
        return t ? demangle(t->name()) : std::string("unknown exception");
    }
}

UnhandledExceptionHandler set_unhandled_exception_handler(UnhandledExceptionHandler handler) {
    std::lock_guard lock(handler_mutex());
    UnhandledExceptionHandler old = std::move(handler_slot());
    handler_slot() = std::move(handler);
    return old;
}

void report_exception(std::exception_ptr error, std::string_view context) noexcept {
    try {
        UnhandledExceptionHandler h;
        {
            std::lock_guard lock(handler_mutex());
            h = handler_slot();
        }
        if (h) {
            h(error, context);
            return;
        }
        std::string text = describe_exception(error);
        std::fprintf(stderr, "kaa: %.*s: %s\n", static_cast<int>(context.size()), context.data(),
                     text.c_str());
    } catch (...) {
        std::fputs("kaa: exception while reporting an exception\n", stderr);
    }
}

}  // namespace kaa
