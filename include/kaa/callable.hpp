#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// Callable and WeakCallable: a function with bound arguments (kaa.Callable), and one that
// holds its owner, and any std::weak_ptr bound argument, weakly (kaa.WeakCallable). A Signal
// stores one of them per connection (kaa/signal.hpp); they are plain values usable on their own:
//
//   auto cb = kaa::callable(pow, 2);            // cb(5) calls pow(5, 2)
//   kaa::WeakCallable w(owner, &Owner::on_x);  // w(x) calls owner->on_x(x) while owner lives
//
// Bound arguments come after the call arguments (callable(), BoundArgs::last: kaa's default and
// how signals call back) or before them (callable_init_args_first(), BoundArgs::first).
//
// Lifetime: a Callable owns its function and copies of its bound arguments. A WeakCallable owns
// its function and its bound arguments that are not std::weak_ptr; it holds the owner (and the
// std::weak_ptr bound arguments) strongly only for the duration of a call. Calling it once one
// of them is gone throws CallableError; call_if_alive() returns std::nullopt instead.
//
// Threads: plain values, not synchronized; calling one runs it on the calling thread. A
// WeakCallable's validity may change at any time when another thread drops the owner (never
// during a call: the owner is locked for it).

#include <kaa/detail/callback.hpp>
#include <kaa/errors.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace kaa {

// ---------------------------------------------------------------- internals

namespace detail {

template <class T>
inline constexpr bool is_weak_ptr_v = false;
template <class T>
inline constexpr bool is_weak_ptr_v<std::weak_ptr<T>> = true;

/// A bound argument as a weak callable hands it over: a weak_ptr locked, anything else as is.
template <class B>
B& lock_arg(B& b) noexcept {
    return b;
}
template <class T>
std::shared_ptr<T> lock_arg(std::weak_ptr<T>& w) noexcept {
    return w.lock();
}
template <class T>
std::shared_ptr<T> lock_arg(const std::weak_ptr<T>& w) noexcept {
    return w.lock();
}
/// The type lock_arg() gives for a bound argument of type B (used to check invocability).
template <class B>
using locked_arg_t = decltype(lock_arg(std::declval<B&>()));

/// Whether a bound argument is still there (only weak_ptrs can die).
template <class B>
bool arg_alive(const B&) noexcept {
    return true;
}
template <class T>
bool arg_alive(const std::weak_ptr<T>& w) noexcept {
    return !w.expired();
}
/// Whether a locked bound argument of declared type B is usable.
template <class B, class L>
bool locked_ok(const L& locked) noexcept {
    if constexpr (is_weak_ptr_v<B>) {
        return static_cast<bool>(locked);
    } else {
        return true;
    }
}

}  // namespace detail

// ---------------------------------------------------------------- Callable

/// Where a Callable puts its bound (init) arguments relative to the call arguments.
enum class BoundArgs {
    last,   ///< f(call_args..., bound...): kaa's default, and how signals call back
    first,  ///< f(bound..., call_args...): kaa's `init_args_first=True`
};

/// A callable with bound arguments (kaa.Callable, docs/semantics.md [sig.callable]). Holds `f` and
/// the bound arguments by value; calling it returns f's result. Make one with callable() or
/// callable_init_args_first(). Compares equal to its function when F is equality-comparable
/// (kaa: `cb == f` iff `cb.func == f`). Thread safety: a plain value.
template <BoundArgs Where, class F, class... Bound>
class Callable {
public:
    /// The wrapped function's type.
    using function_type = F;
    /// The bound arguments, appended after the call's own arguments.
    using bound_type = std::tuple<Bound...>;

    /// Binds `bound` to `f`.
    explicit Callable(F f, Bound... bound) : f_(std::move(f)), bound_(std::move(bound)...) {}

    /// Calls f with the call arguments and the bound ones (order given by `Where`); the bound
    /// arguments are passed as lvalues.
    template <class... A>
    decltype(auto) operator()(A&&... args) {
        return call(*this, std::forward<A>(args)...);
    }
    /// Same, on a const Callable.
    template <class... A>
    decltype(auto) operator()(A&&... args) const {
        return call(*this, std::forward<A>(args)...);
    }

    /// The wrapped function.
    const F& function() const noexcept { return f_; }
    /// The bound arguments.
    const bound_type& bound() const noexcept { return bound_; }

    /// kaa's equality: a Callable equals its own function.
    template <class G>
        requires std::same_as<std::decay_t<G>, F> && std::equality_comparable<F>
    friend bool operator==(const Callable& c, const G& g) { return c.f_ == g; }

private:
    template <class Self, class... A>
    static decltype(auto) call(Self& self, A&&... args) {
        return std::apply(
            [&](auto&... b) -> decltype(auto) {
                if constexpr (Where == BoundArgs::last) {
                    return std::invoke(self.f_, std::forward<A>(args)..., b...);
                } else {
                    return std::invoke(self.f_, b..., std::forward<A>(args)...);
                }
            },
            self.bound_);
    }

    F f_;
    bound_type bound_;
};

/// A Callable calling `f(call_args..., bound...)`: `callable(pow, 2)(5)` is `pow(5, 2)`.
template <class F, class... Bound>
Callable<BoundArgs::last, std::decay_t<F>, std::decay_t<Bound>...> callable(F&& f,
                                                                            Bound&&... bound) {
    return Callable<BoundArgs::last, std::decay_t<F>, std::decay_t<Bound>...>(
        std::forward<F>(f), std::forward<Bound>(bound)...);
}

/// A Callable calling `f(bound..., call_args...)` (kaa's `init_args_first=True`).
template <class F, class... Bound>
Callable<BoundArgs::first, std::decay_t<F>, std::decay_t<Bound>...> callable_init_args_first(
    F&& f, Bound&&... bound) {
    return Callable<BoundArgs::first, std::decay_t<F>, std::decay_t<Bound>...>(
        std::forward<F>(f), std::forward<Bound>(bound)...);
}

// ---------------------------------------------------------------- WeakCallable

/// A callable that holds its owner weakly (kaa.WeakCallable, [sig.weak]). Calls
/// `f(call_args..., bound...)`, or, if F is a member pointer of O, `(owner->*f)(call_args...,
/// bound...)`. The owner is locked (held strongly) for the duration of each call. A bound
/// argument of type std::weak_ptr<T> is a weak reference too: it is locked and passed as
/// std::shared_ptr<T>. The callable itself and other bound arguments are held by value.
///
/// It is valid while the owner and every weak bound argument are alive; calling it afterwards
/// throws CallableError("attempting to invoke an invalid callable"). Thread safety: a plain
/// value; validity may change when another thread drops the owner.
template <class O, class F, class... Bound>
class WeakCallable {
public:
    /// The type of the object the callable weakly refers to.
    using owner_type = O;
    /// The wrapped function's type.
    using function_type = F;
    /// The bound arguments, appended after the call's own arguments.
    using bound_type = std::tuple<Bound...>;

    /// Binds `bound` to `f`, held for `owner`.
    WeakCallable(std::weak_ptr<O> owner, F f, Bound... bound)
        : owner_(std::move(owner)), f_(std::move(f)), bound_(std::move(bound)...) {}

    /// Whether the owner and every weak bound argument are still alive.
    bool valid() const noexcept {
        if (owner_.expired()) return false;
        return std::apply([](const auto&... b) { return (detail::arg_alive(b) && ...); }, bound_);
    }

    /// Calls the target and returns its result. Throws CallableError if it is not valid().
    template <class... A>
    decltype(auto) operator()(A&&... args) {
        return call(*this, std::forward<A>(args)...);
    }
    /// Same, on a const WeakCallable.
    template <class... A>
    decltype(auto) operator()(A&&... args) const {
        return call(*this, std::forward<A>(args)...);
    }

    /// Calls the target if valid: std::nullopt if it is not (nothing is called), otherwise
    /// false iff the target returned exactly `false` (kaa's callback rule). Never throws
    /// CallableError; exceptions from the target propagate.
    template <class... A>
    std::optional<bool> call_if_alive(A&&... args) {
        auto locked = lock(*this, std::index_sequence_for<Bound...>{});
        if (!locked) return std::nullopt;
        auto run = [&]() -> decltype(auto) {
            return invoke_locked(f_, *locked, std::forward<A>(args)...);
        };
        return detail::invoke_keeps_going(run);
    }

    /// The owner, as given.
    const std::weak_ptr<O>& owner() const noexcept { return owner_; }
    /// The wrapped function.
    const F& function() const noexcept { return f_; }
    /// The bound arguments (weak ones unlocked).
    const bound_type& bound() const noexcept { return bound_; }

private:
    // Strong references for one call: the owner, then each bound argument (weak_ptrs locked,
    // others by reference); std::nullopt if anything died.
    template <class Self, std::size_t... I>
    static auto lock(Self& self, std::index_sequence<I...>) {
        using Locked =
            std::tuple<std::shared_ptr<O>, decltype(detail::lock_arg(std::get<I>(self.bound_)))...>;
        std::optional<Locked> out;
        std::shared_ptr<O> owner = self.owner_.lock();
        if (!owner) return out;
        out.emplace(std::move(owner), detail::lock_arg(std::get<I>(self.bound_))...);
        if (!(detail::locked_ok<Bound>(std::get<I + 1>(*out)) && ...)) out.reset();
        return out;
    }

    template <class G, class Locked, class... A>
    static decltype(auto) invoke_locked(G& f, Locked& locked, A&&... args) {
        return std::apply(
            [&]([[maybe_unused]] auto& owner, auto&... b) -> decltype(auto) {
                if constexpr (std::is_member_pointer_v<F>) {
                    return std::invoke(f, owner.get(), std::forward<A>(args)..., b...);
                } else {
                    return std::invoke(f, std::forward<A>(args)..., b...);
                }
            },
            locked);
    }

    template <class Self, class... A>
    static decltype(auto) call(Self& self, A&&... args) {
        auto locked = lock(self, std::index_sequence_for<Bound...>{});
        if (!locked) throw CallableError("attempting to invoke an invalid callable");
        return invoke_locked(self.f_, *locked, std::forward<A>(args)...);
    }

    std::weak_ptr<O> owner_;
    F f_;
    bound_type bound_;
};

/// Deduces the owner type from a std::weak_ptr.
template <class O, class F, class... Bound>
WeakCallable(std::weak_ptr<O>, F, Bound...) -> WeakCallable<O, F, Bound...>;
/// Deduces the owner type from a std::shared_ptr (held weakly).
template <class O, class F, class... Bound>
WeakCallable(std::shared_ptr<O>, F, Bound...) -> WeakCallable<O, F, Bound...>;

}  // namespace kaa

#pragma GCC visibility pop
