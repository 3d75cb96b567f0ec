#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// InProgressCallable<T>: an InProgress that is also a callable; calling it finishes it with the
// call's arguments. It is how a callback-style API is turned into an InProgress:
//
//   kaa::InProgressCallable<int> ip;
//   some_signal.connect_once(ip);   // a copy of the handle: ip finishes at the emission
//   int v = co_await ip;
//
// Arguments map to the result as in kaa (docs/semantics.md [ip.callable.1]):
//   `()`         → finish() for void, else finish(T{}) (kaa: None)
//   `(a)`        → finish(T(a)) (void: finish(), the argument is discarded)
//   `(a, b, …)`  → finish(T(std::tuple(a, b, …))) for a tuple-like T (void: finish())
//   `(e)` with e a std::exception_ptr (kaa's exception triple) → throw_exception(e) when
//                  `throwable` is set (the default); with throwable=false e is an ordinary
//                  argument (finish(T(e)), or finish() for void) — unless T cannot hold it,
//                  in which case it still fails with e.
// Keyword arguments (kaa's `(k=v)`, `(k1=…, k2=…)`, `(args…, kw…)`) have no C++ counterpart.
// Calling it after it finished throws std::runtime_error (from finish()/throw_exception()).
//
// Lifetime: a handle like InProgress; copies (e.g. the one a Signal stores) share the state and
// the `throwable` flag.
//
// Threads: as InProgress (a call from another thread is queued to the loop thread).

#include <kaa/inprogress.hpp>

#include <exception>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace kaa {

/// An InProgress that is also a callable: calling it finishes it with the call's arguments
/// (see the file comment of kaa/inprogress_callable.hpp).
template <class T = void>
class InProgressCallable : public InProgress<T> {
public:
    /// A pending InProgressCallable; `func`, if given, is called with it at once (kaa uses that
    /// to connect it somewhere). With throwable=false an exception_ptr argument is a value.
    explicit InProgressCallable(std::function<void(InProgressCallable&)> func = {},
                                InProgressOptions opts = {}, bool throwable = true)
        : InProgress<T>(opts), throwable_(throwable) {
        if (func) func(*this);
    }

    /// Whether a single std::exception_ptr argument fails it (see the file comment).
    bool throwable() const noexcept { return throwable_; }

    /// Finishes (or fails) it from the call's arguments; see the file comment. Throws
    /// std::runtime_error if it already finished.
    template <class... A>
    void operator()(A&&... args) {
        constexpr std::size_t n = sizeof...(A);
        if constexpr (n == 1 && (std::is_same_v<std::decay_t<A>, std::exception_ptr> && ...)) {
            constexpr bool holds = std::is_void_v<T> || std::is_constructible_v<T, A&&...>;
            if (throwable_ || !holds) {
                this->throw_exception(std::exception_ptr(args)...);
                return;
            }
            if constexpr (holds) finish_with(std::forward<A>(args)...);
        } else {
            finish_with(std::forward<A>(args)...);
        }
    }

private:
    template <class... A>
    void finish_with(A&&... args) {
        constexpr std::size_t n = sizeof...(A);
        if constexpr (std::is_void_v<T>) {
            this->finish();
        } else if constexpr (n == 0) {
            this->finish(T{});
        } else if constexpr (n == 1 && (std::is_constructible_v<T, A&&> && ...)) {
            this->finish(T(std::forward<A>(args)...));
        } else {
            static_assert(std::is_constructible_v<T, std::tuple<std::decay_t<A>...>>,
                          "InProgressCallable<T>: T cannot be built from these arguments");
            this->finish(T(std::make_tuple(std::forward<A>(args)...)));
        }
    }

    bool throwable_;
};

}  // namespace kaa

#pragma GCC visibility pop
