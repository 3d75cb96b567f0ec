#pragma once
// InProgressCallable<T>: an InProgress that is also a callable; calling it finishes it with the
// call's arguments. It is how a callback-style API is turned into an InProgress:
//
//   kaa::InProgressCallable<int> ip;
//   some_signal.connect_once(ip);   // a copy of the handle: ip finishes at the emission
//   int v = co_await ip;
//
// Arguments map to the result as in kaa (§2.11): `()` → finish() (void) or a value-initialised
// T; `(a)` → finish(a); `(a, b, …)` → finish(T{std::tuple(a, b, …)}) for a tuple T; a single
// std::exception_ptr fails it when `throwable` is set (the default), else is a plain value.
// Keyword arguments have no C++ counterpart. Calling it after it finished throws
// std::runtime_error.
//
// Threads: as InProgress (a call from another thread is queued to the loop thread).

#include <kaa/inprogress.hpp>

#include <exception>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace kaa {

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

    /// Finishes (or fails) it from the call's arguments; see the file comment.
    template <class... A>
    void operator()(A&&... args) {
        constexpr std::size_t n = sizeof...(A);
        if constexpr (n == 1 && (std::is_same_v<std::decay_t<A>, std::exception_ptr> && ...)) {
            if (throwable_ || !std::is_constructible_v<T, std::exception_ptr>) {
                this->throw_exception(std::forward<A>(args)...);
                return;
            }
        }
        if constexpr (std::is_void_v<T>) {
            this->finish();
        } else if constexpr (n == 0) {
            this->finish(T{});
        } else if constexpr (n == 1 && (std::is_constructible_v<T, A&&> && ...)) {
            this->finish(T(std::forward<A>(args)...));
        } else {
            this->finish(T(std::make_tuple(std::forward<A>(args)...)));
        }
    }

private:
    bool throwable_;
};

}  // namespace kaa
