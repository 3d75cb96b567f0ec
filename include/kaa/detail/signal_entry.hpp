#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// The connections a Signal<Args...> is made of (internal, kaa/signal.hpp): the type-independent
// SignalEntryBase a Connection points at, SignalEntry<Args...>, and CallableSignalEntry, which
// stores the Callable or WeakCallable of a connect*() call. (The entry behind
// inprogress(signal) is in kaa/signal_inprogress.hpp.)

#include <kaa/callable.hpp>
#include <kaa/detail/callback.hpp>

#include <optional>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace kaa {
template <class... Args>
class Signal;
}  // namespace kaa

namespace kaa::detail {

/// How a callback receives an emitted argument: a declared reference as is, anything else by
/// const reference (all callbacks of one emission see the same values).
template <class A>
using signal_param_t = std::conditional_t<std::is_reference_v<A>, A&, const A&>;

// ---- what connect() and connect_weak() accept (their static_asserts)

/// Signal<Args...>::connect(f, bound...) accepts f callable as f(args..., bound...).
template <class Sig, class F, class... Bound>
inline constexpr bool connectable_v = false;
template <class... Args, class F, class... Bound>
inline constexpr bool connectable_v<Signal<Args...>, F, Bound...> =
    std::is_invocable_v<F&, signal_param_t<Args>..., Bound&...>;

/// Signal<Args...>::connect_weak(owner, f, bound...) accepts f callable as
/// f(args..., bound...), or as (owner->*f)(args..., bound...) for a member pointer; weak_ptr
/// bound arguments are passed locked.
template <class Sig, class O, class F, class... Bound>
inline constexpr bool weak_connectable_v = false;
template <class... Args, class O, class F, class... Bound>
inline constexpr bool weak_connectable_v<Signal<Args...>, O, F, Bound...> =
    std::is_member_pointer_v<F>
        ? std::is_invocable_v<F&, O*, signal_param_t<Args>..., locked_arg_t<Bound>...>
        : std::is_invocable_v<F&, signal_param_t<Args>..., locked_arg_t<Bound>...>;

/// The result of calling one connection.
enum class CallOutcome : unsigned char {
    keep_going,      ///< returned anything but an explicit false
    returned_false,  ///< returned exactly false: emit() will return false
    dead,            ///< a weak connection whose owner (or a weak bound argument) is gone
};

/// The type-independent part of a connection (what a Connection points at).
struct SignalEntryBase {
    SignalEntryBase() = default;
    SignalEntryBase(const SignalEntryBase&) = delete;
    SignalEntryBase& operator=(const SignalEntryBase&) = delete;
    virtual ~SignalEntryBase() = default;

    /// True while the entry is in its signal's list; cleared on removal and when the signal
    /// dies, so `core` is only used while this is set.
    bool connected = false;
    /// Removed before its first call (connect_once and friends).
    bool once = false;
    /// The owning signal's shared core (valid while `connected`).
    void* core = nullptr;
    /// Removes this entry from `core`; returns whether it was there. May call the changed
    /// callback.
    bool (*detach)(void* core, SignalEntryBase* entry) = nullptr;
};

/// One connection of a Signal<Args...>.
template <class... Args>
struct SignalEntry : SignalEntryBase {
    /// Calls the callback with the emitted arguments (and its bound ones).
    virtual CallOutcome invoke(signal_param_t<Args>... args) = 0;
    /// False once a weak entry's owner died (or the InProgress of inprogress() is gone).
    virtual bool alive() const { return true; }
    /// The stored callable if its type is `type` (for disconnect(f)), else nullptr.
    virtual const void* target(const std::type_info& /*type*/) const noexcept { return nullptr; }
    /// The bound arguments as a std::tuple if that tuple's type is `type`, else nullptr.
    virtual const void* bound_args(const std::type_info& /*type*/) const noexcept {
        return nullptr;
    }
};

template <class C>
inline constexpr bool is_weak_callable_v = false;
template <class O, class F, class... Bound>
inline constexpr bool is_weak_callable_v<WeakCallable<O, F, Bound...>> = true;

/// A connection made by connect*(): a Callable, or a WeakCallable for connect_weak*().
template <class C, class... Args>
class CallableSignalEntry final : public SignalEntry<Args...> {
public:
    explicit CallableSignalEntry(C call) : call_(std::move(call)) {}

    CallOutcome invoke(signal_param_t<Args>... args) override {
        if constexpr (is_weak_callable_v<C>) {
            std::optional<bool> r = call_.call_if_alive(args...);
            if (!r) return CallOutcome::dead;
            return *r ? CallOutcome::keep_going : CallOutcome::returned_false;
        } else {
            return invoke_keeps_going(call_, args...) ? CallOutcome::keep_going
                                                      : CallOutcome::returned_false;
        }
    }
    bool alive() const override {
        if constexpr (is_weak_callable_v<C>) {
            return call_.valid();
        } else {
            return true;
        }
    }
    const void* target(const std::type_info& type) const noexcept override {
        return type == typeid(typename C::function_type) ? &call_.function() : nullptr;
    }
    const void* bound_args(const std::type_info& type) const noexcept override {
        return type == typeid(typename C::bound_type) ? &call_.bound() : nullptr;
    }

private:
    C call_;
};

}  // namespace kaa::detail

#pragma GCC visibility pop
