#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// kaa's exception types and the handler for exceptions nobody consumed.
//
// Mirrors kaa.base's hierarchy: `BaseException` does *not* derive from std::exception, just as
// Python's BaseException is not an Exception, so `catch (const std::exception&)` in user code
// and in kaa's own signal emission does not swallow an abort. InProgressAborted and
// TimeoutException derive from it.
//
// InProgressAborted refers to the InProgress that was aborted (`inprogress()`) and to the one
// abort() was called on (`origin()`). It holds them weakly: an InProgress that failed with an
// abort exception naming itself would otherwise keep itself alive forever.
//
// Threads: exception objects are values and may be read on any thread; the handler is global and
// may be called from any thread (it is called where the last handle of an InProgress dies).

#include <kaa/detail/exception_peek.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace kaa {

class InProgressBase;

namespace detail {
class StateBase;
struct WeakControl;
/// The abort in `exc` (an InProgressAborted) as delivered to `target`: names `target` as its
/// inprogress(), keeps its origin, or sets it to `origin_if_unset` when it has none (or it
/// died). Returns `exc` itself when nothing changes, else one copy; never throws an exception
/// to find out (see peek_exception()). `exc` holding anything else is returned unchanged.
std::exception_ptr abort_delivered_to(const std::exception_ptr& exc, StateBase* target,
                                      StateBase* origin_if_unset);
/// abort_delivered_to(exc, target, nullptr), but if `target` already failed with the abort
/// `exc` delivered to it (it names `target`, same origin), that exception itself: no copy.
std::exception_ptr abort_as_failed_or_delivered(const std::exception_ptr& exc, StateBase* target);

/// A weak reference to an InProgress state; upgrading gives an empty handle once it is gone.
class WeakState {
public:
    WeakState() = default;
    explicit WeakState(StateBase* s);
    WeakState(const WeakState& o);
    WeakState(WeakState&& o) noexcept : ctl_(o.ctl_) { o.ctl_ = nullptr; }
    WeakState& operator=(WeakState o) noexcept {
        std::swap(ctl_, o.ctl_);
        return *this;
    }
    ~WeakState();
    /// The state with one more strong reference, or nullptr if it is gone or was never set.
    StateBase* lock() const;
    bool empty() const { return ctl_ == nullptr; }
    /// Whether this refers to `s` (alive: the caller holds a reference to it). No lock taken.
    bool refers_to(const StateBase* s) const noexcept;
    /// Whether the state is still alive (lock() would succeed).
    bool alive() const;
    /// Whether both refer to the same state (or both to none). No lock taken.
    bool same_as(const WeakState& o) const noexcept { return ctl_ == o.ctl_; }

private:
    WeakControl* ctl_ = nullptr;
};
}  // namespace detail

/// Root of kaa's control-flow exceptions; deliberately not a std::exception.
class BaseException {
public:
    /// An exception with `message` (what()).
    explicit BaseException(std::string message = {})
        : message_(message.empty() ? nullptr
                                   : std::make_shared<const std::string>(std::move(message))) {}
    virtual ~BaseException() = default;
    /// The message given at construction.
    virtual const char* what() const noexcept { return message_ ? message_->c_str() : ""; }

private:
    // Shared and immutable: the library copies abort exceptions as they travel (retargeted,
    // given an origin), and a copy must not cost a string allocation.
    std::shared_ptr<const std::string> message_;
};

/// Thrown where an InProgress was aborted: at a coroutine's suspension point, by result(), wait().
class InProgressAborted : public BaseException {
public:
    /// An abort exception with `message`, not yet tied to an InProgress.
    explicit InProgressAborted(std::string message = "InProgress task aborted");
    /// An abort exception naming the aborted InProgress and the one abort() was called on.
    InProgressAborted(std::string message, const InProgressBase& inprogress,
                      const InProgressBase& origin);
    /// The InProgress that was aborted (the awaited one inside a coroutine), or an empty handle
    /// (a coroutine aborted at NotFinished, or the object is gone).
    InProgressBase inprogress() const;
    /// The InProgress abort() was called on; empty if not set.
    InProgressBase origin() const;
    /// A copy of the same dynamic type with inprogress() replaced; origin() is kept.
    std::exception_ptr retarget(const InProgressBase& inprogress) const;
    /// A copy of the same dynamic type with origin() set.
    std::exception_ptr with_origin(const InProgressBase& origin) const;
    /// Throws a copy of the same dynamic type (used by retarget; override with KAA_ABORT_TYPE).
    virtual std::exception_ptr clone_ptr() const;

protected:
    /// @cond INTERNAL
    detail::WeakState inprogress_;
    detail::WeakState origin_;
    /// @endcond
    friend class InProgressBase;
    friend std::exception_ptr detail::abort_delivered_to(const std::exception_ptr&,
                                                         detail::StateBase*, detail::StateBase*);
    friend std::exception_ptr detail::abort_as_failed_or_delivered(const std::exception_ptr&,
                                                                   detail::StateBase*);
};

// Subclasses of InProgressAborted put this in their body so that retargeting keeps their type.
#define KAA_ABORT_TYPE(Type) \
    std::exception_ptr clone_ptr() const override { return std::make_exception_ptr(*this); }

/// The failure of wait(timeout) and of InProgress::timeout(); an InProgressAborted.
class TimeoutException : public InProgressAborted {
public:
    /// InProgressAborted's constructors.
    using InProgressAborted::InProgressAborted;
    KAA_ABORT_TYPE(TimeoutException)
};

/// Asks the main loop to end, like Python's SystemExit (delivered by SIGINT/SIGTERM).
class SystemExit : public BaseException {
public:
    /// BaseException's constructor.
    using BaseException::BaseException;
};

/// A weak callable or weak timer was invoked after its target died.
class CallableError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A value of the wrong kind was handed to kaa (Python's TypeError).
class TypeError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A socket operation failed or was used in the wrong state.
class SocketError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Called with an exception nobody consumed and a short context line
/// ("Unhandled InProgress exception", "Exception while emitting signal", …).
using UnhandledExceptionHandler = std::function<void(std::exception_ptr, std::string_view context)>;

/// Replaces the handler; returns the previous one. An empty function restores the default,
/// which writes the context, the exception's type and its message to stderr.
UnhandledExceptionHandler set_unhandled_exception_handler(UnhandledExceptionHandler handler);

/// Hands an exception to the current handler. Never throws.
void report_exception(std::exception_ptr error, std::string_view context) noexcept;

/// True if `error` holds an exception of type E or of a type derived from it.
template <class E>
bool holds(const std::exception_ptr& error) noexcept {
    return detail::peek_exception<const E>(error) != nullptr;
}

/// "TypeName: message" for any exception (std::exception, BaseException or other).
std::string describe_exception(std::exception_ptr error);

}  // namespace kaa

#pragma GCC visibility pop
