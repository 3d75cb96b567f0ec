#pragma once
// Signal<Args...>: kaa's list of callbacks called in order by emit(); Signals<Args...>: an
// ordered, named collection of them. Also Callable and WeakCallable, the callables a Signal is
// made of (kaa-reference §3.1–3.4).
//
// A callback connected with bound arguments is called with the emitted arguments first and the
// bound ones after them: `sig.connect(f, 42); sig.emit("x");` calls `f("x", 42)`. It may return
// void or anything else; only an explicit `bool false` counts, and makes emit() return false.
//
// Lifetime: a Signal owns its connections (the callables and their bound arguments) until they
// are disconnected or the Signal is destroyed. A Connection is a weak handle that names exactly
// one of them; dropping it does nothing (use ScopedConnection to disconnect on scope exit). A
// weak connection holds its owner with a std::weak_ptr and is removed once the owner is gone:
// lazily, at the next emit(), count() or connect(), each removal reported to the changed
// callback as `disconnected`; it is never called once its owner died. A callback may destroy
// the Signal it is called from: the emission then stops after that callback.
//
// Signals are neither copied nor moved: their address is their identity (the changed callback
// receives it). A Signals collection is copyable and shares its Signal objects.
//
// Threads: main-loop thread only (Signal, Signals, Connection, ScopedConnection). Callables are
// plain values; calling one runs it on the calling thread.

#include <kaa/detail/callback.hpp>
#include <kaa/errors.hpp>
#include <kaa/inprogress.hpp>
#include <kaa/inprogress_any.hpp>

#include <concepts>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

namespace kaa {

template <class... Args>
class Signal;
template <class... Args>
class Signals;

/// What happened to a Signal's connections, as told to its changed callback.
enum class SignalAction {
    connected = 1,     ///< after every connect
    disconnected = 2,  ///< after every call that removed at least one connection
};

// ---------------------------------------------------------------- internals

namespace detail {

/// How a callback receives an emitted argument: a declared reference as is, anything else by
/// const reference (all callbacks of one emission see the same values).
template <class A>
using signal_param_t = std::conditional_t<std::is_reference_v<A>, A&, const A&>;

/// What `inprogress(Signal<Args...>&)` finishes with: void, the one argument, or a tuple.
template <class... Args>
struct signal_result {
    using type = std::tuple<std::decay_t<Args>...>;
};
template <>
struct signal_result<> {
    using type = void;
};
template <class A>
struct signal_result<A> {
    using type = std::decay_t<A>;
};
template <class... Args>
using signal_result_t = typename signal_result<Args...>::type;

template <class T>
inline constexpr bool is_weak_ptr_v = false;
template <class T>
inline constexpr bool is_weak_ptr_v<std::weak_ptr<T>> = true;

/// The owner pointer types connect_weak() accepts: std::shared_ptr<O> and std::weak_ptr<O>.
template <class P>
struct owner_of {};
template <class O>
struct owner_of<std::shared_ptr<O>> {
    using type = O;
};
template <class O>
struct owner_of<std::weak_ptr<O>> {
    using type = O;
};
template <class P>
concept owner_pointer = requires {
    typename owner_of<std::remove_cvref_t<P>>::type;
};
template <class P>
using owner_of_t = typename owner_of<std::remove_cvref_t<P>>::type;

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

template <class T>
inline constexpr bool is_std_function_v = false;
template <class Sig>
inline constexpr bool is_std_function_v<std::function<Sig>> = true;

/// True for a null function pointer, member pointer or empty std::function.
template <class F>
bool is_null_callable(const F& f) noexcept {
    if constexpr (std::is_pointer_v<F> || std::is_member_pointer_v<F>) {
        return f == nullptr;
    } else if constexpr (is_std_function_v<F>) {
        return !f;
    } else {
        return false;
    }
}

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

}  // namespace detail

// ---------------------------------------------------------------- Connection

/// Names exactly one connection of one Signal. A small copyable value: copies name the same
/// connection, and dropping it leaves the connection in place. Holds the connection weakly.
/// Thread safety: main-loop thread only.
class Connection {
public:
    /// Names nothing; connected() is false.
    Connection() = default;

    /// Whether the connection is still in its signal (false after disconnect, after a once
    /// connection fired, after its weak owner died and was noticed, or once the signal died).
    bool connected() const noexcept {
        auto e = entry_.lock();
        return e && e->connected;
    }

    /// Removes the connection from its signal; returns whether it was still connected. Calls
    /// the signal's changed callback (and propagates what it throws).
    bool disconnect() {
        auto e = entry_.lock();
        if (!e || !e->connected) return false;
        return e->detach(e->core, e.get());
    }

    /// Same connection (two empty handles are equal).
    friend bool operator==(const Connection& a, const Connection& b) noexcept {
        return !a.entry_.owner_before(b.entry_) && !b.entry_.owner_before(a.entry_);
    }

private:
    explicit Connection(std::weak_ptr<detail::SignalEntryBase> entry) : entry_(std::move(entry)) {}
    template <class...>
    friend class Signal;

    std::weak_ptr<detail::SignalEntryBase> entry_;
};

/// Owns a Connection: disconnects it when destroyed or reassigned (RAII). Move-only.
/// Thread safety: main-loop thread only.
class [[nodiscard]] ScopedConnection {
public:
    /// Owns nothing.
    ScopedConnection() = default;
    /// Takes ownership of `c`.
    explicit ScopedConnection(Connection c) noexcept : c_(std::move(c)) {}
    ScopedConnection(ScopedConnection&& o) noexcept : c_(std::exchange(o.c_, Connection())) {}
    ScopedConnection& operator=(ScopedConnection&& o) noexcept {
        if (this != &o) {
            reset();
            c_ = std::exchange(o.c_, Connection());
        }
        return *this;
    }
    ScopedConnection(const ScopedConnection&) = delete;
    ScopedConnection& operator=(const ScopedConnection&) = delete;
    /// Disconnects. An exception from the signal's changed callback is reported through
    /// report_exception(), never thrown from here.
    ~ScopedConnection() { reset(); }

    /// Disconnects now (if still connected) and owns nothing afterwards.
    void reset() noexcept {
        Connection c = std::exchange(c_, Connection());
        try {
            c.disconnect();
        } catch (...) {
            report_exception(std::current_exception(), "Exception while disconnecting");
        }
    }
    /// Gives up ownership without disconnecting.
    Connection release() noexcept { return std::exchange(c_, Connection()); }
    /// The owned connection.
    const Connection& get() const noexcept { return c_; }
    /// Whether the owned connection is still connected.
    bool connected() const noexcept { return c_.connected(); }

private:
    Connection c_;
};

namespace detail {
/// What Signal::disconnect(f) compares: an equality-comparable callable (not a Connection).
template <class F>
concept comparable_callable =
    !std::same_as<std::decay_t<F>, Connection> && std::equality_comparable<std::decay_t<F>>;
/// A bound argument Signal::disconnect(f, bound...) can compare.
template <class T>
concept comparable_arg = std::equality_comparable<std::decay_t<T>>;
/// A signal name for Signals::subset() and Signals::add().
template <class T>
concept signal_name = std::convertible_to<const T&, std::string_view>;
}  // namespace detail

// ---------------------------------------------------------------- Callable

/// Where a Callable puts its bound (init) arguments relative to the call arguments.
enum class BoundArgs {
    last,   ///< f(call_args..., bound...): kaa's default, and how signals call back
    first,  ///< f(bound..., call_args...): kaa's `init_args_first=True`
};

/// A callable with bound arguments (kaa.Callable, §3.1). Holds `f` and the bound arguments by
/// value; calling it returns f's result. Make one with callable() or
/// callable_init_args_first(). Compares equal to its function when F is equality-comparable
/// (kaa: `cb == f` iff `cb.func == f`). Thread safety: a plain value.
template <BoundArgs Where, class F, class... Bound>
class Callable {
public:
    using function_type = F;
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

/// A callable that holds its owner weakly (kaa.WeakCallable, §3.2). Calls
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
    using owner_type = O;
    using function_type = F;
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

template <class O, class F, class... Bound>
WeakCallable(std::weak_ptr<O>, F, Bound...) -> WeakCallable<O, F, Bound...>;
template <class O, class F, class... Bound>
WeakCallable(std::shared_ptr<O>, F, Bound...) -> WeakCallable<O, F, Bound...>;

// ---------------------------------------------------------------- signal entries

namespace detail {

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

/// The connection behind inprogress(signal): finishes the InProgress at the next emission.
/// Holds it weakly, so dropping the InProgress makes the entry dead (and removed).
template <class... Args>
class InProgressSignalEntry final : public SignalEntry<Args...> {
public:
    using result_type = signal_result_t<Args...>;

    explicit InProgressSignalEntry(const InProgress<result_type>& ip) : weak_(&ip.state()) {}

    CallOutcome invoke(signal_param_t<Args>... args) override {
        InProgress<result_type> ip = lock();
        if (!ip.valid() || ip.finished()) return CallOutcome::dead;
        if constexpr (sizeof...(Args) == 0) {
            ip.finish();
        } else if constexpr (sizeof...(Args) == 1) {
            ip.finish(args...);
        } else {
            ip.finish(result_type(args...));
        }
        return CallOutcome::keep_going;
    }
    bool alive() const override {
        InProgress<result_type> ip = lock();
        return ip.valid() && !ip.finished();
    }

private:
    InProgress<result_type> lock() const { return InProgress<result_type>::adopt(weak_.lock()); }

    WeakState weak_;
};

}  // namespace detail

/// An InProgress finished at the next emission of `signal` with nothing (no arguments), the
/// argument (one), or a std::tuple of them (several). It leaves no connection behind: the
/// connection goes when it fires, and also (at the next emit() or count()) once every handle
/// to the InProgress was dropped or it finished otherwise. A pending emit_deferred() finishes
/// it at once. Main-loop thread only.
template <class... Args>
InProgress<detail::signal_result_t<Args...>> inprogress(Signal<Args...>& signal);

// ---------------------------------------------------------------- Signal

/// A list of callbacks called in connection order by emit() (kaa.Signal, §3.3). See the file
/// comment for argument order, lifetime and threads (main-loop thread only).
template <class... Args>
class Signal {
public:
    /// What inprogress(signal) finishes with.
    using result_type = detail::signal_result_t<Args...>;
    /// Told about every change to the connections: `cb(signal, action)`.
    using changed_callback = std::function<void(Signal&, SignalAction)>;
    /// At most this many connections; one more throws std::invalid_argument.
    static constexpr std::size_t max_connections = 1000;

    /// An empty signal.
    Signal() : core_(std::make_shared<Core>()) { core_->owner = this; }
    /// An empty signal with a changed callback (see set_changed_callback()).
    explicit Signal(changed_callback changed) : Signal() { core_->changed = std::move(changed); }
    Signal(const Signal&) = delete;
    Signal& operator=(const Signal&) = delete;
    /// Disconnects everything without calling the changed callback. Allowed inside one of its
    /// own callbacks: that emission stops after the running callback.
    ~Signal();

    /// Connects `f`, called as `f(args..., bound...)` at each emit() after the callbacks
    /// already connected. Calls the changed callback, then replays any emit_deferred()
    /// emissions to `f` only. Throws std::invalid_argument past max_connections,
    /// kaa::TypeError for a null function pointer or empty std::function.
    template <class F, class... Bound>
    Connection connect(F f, Bound... bound) {
        return connect_strong({}, std::move(f), std::move(bound)...);
    }
    /// As connect(), but disconnected just before its first call.
    template <class F, class... Bound>
    Connection connect_once(F f, Bound... bound) {
        return connect_strong({.once = true}, std::move(f), std::move(bound)...);
    }
    /// As connect(), but called before the callbacks already connected.
    template <class F, class... Bound>
    Connection connect_first(F f, Bound... bound) {
        return connect_strong({.first = true}, std::move(f), std::move(bound)...);
    }
    /// connect_first() and connect_once() at once.
    template <class F, class... Bound>
    Connection connect_first_once(F f, Bound... bound) {
        return connect_strong({.once = true, .first = true}, std::move(f), std::move(bound)...);
    }

    /// Connects `f` for as long as `owner` (a std::shared_ptr or std::weak_ptr) lives: see
    /// WeakCallable for the call (member pointers of the owner, weak_ptr bound arguments).
    /// The owner is held strongly only during a call. Once it is gone the connection is
    /// removed (changed callback: disconnected) at the next emit(), count() or connect(), and
    /// never called. If the owner is already gone nothing is connected and the returned
    /// Connection is not connected(). Throws as connect().
    template <detail::owner_pointer P, class F, class... Bound>
    Connection connect_weak(const P& owner, F f, Bound... bound) {
        return connect_weak_impl({}, owner, std::move(f), std::move(bound)...);
    }
    /// Weak variant of connect_once().
    template <detail::owner_pointer P, class F, class... Bound>
    Connection connect_weak_once(const P& owner, F f, Bound... bound) {
        return connect_weak_impl({.once = true}, owner, std::move(f), std::move(bound)...);
    }
    /// Weak variant of connect_first().
    template <detail::owner_pointer P, class F, class... Bound>
    Connection connect_weak_first(const P& owner, F f, Bound... bound) {
        return connect_weak_impl({.first = true}, owner, std::move(f), std::move(bound)...);
    }
    /// Weak variant of connect_first_once().
    template <detail::owner_pointer P, class F, class... Bound>
    Connection connect_weak_first_once(const P& owner, F f, Bound... bound) {
        return connect_weak_impl({.once = true, .first = true}, owner, std::move(f),
                                 std::move(bound)...);
    }

    /// Removes exactly the connection `c` names (identity, not equality: kaa-reference Q8).
    /// Returns false if it is not connected to this signal. Calls the changed callback.
    bool disconnect(const Connection& c);
    /// Removes every connection whose callable equals `f` (same type and `==`), whatever its
    /// bound arguments or owner; for function pointers, member pointers and other
    /// equality-comparable callables (lambdas never match: keep the Connection instead).
    /// Returns whether anything was removed; calls the changed callback once if so.
    template <detail::comparable_callable F>
    bool disconnect(const F& f);
    /// As disconnect(f), but only connections bound with exactly `bound...` (same decayed
    /// types, compared with ==).
    template <detail::comparable_callable F, detail::comparable_arg B0,
              detail::comparable_arg... Bound>
    bool disconnect(const F& f, const B0& b0, const Bound&... bound);
    /// Removes every connection; calls the changed callback once if there was any.
    void disconnect_all();

    /// Calls every connected callback, in order, with `args` (then its bound arguments).
    /// - Iterates over a snapshot: callbacks connected meanwhile are not called in this
    ///   emission; callbacks disconnected meanwhile (by an earlier callback) are skipped.
    /// - A once connection is disconnected just before it is called, so a recursive emit()
    ///   from inside it does not call it again.
    /// - A weak connection whose owner is gone is removed instead of called.
    /// - A callback throwing anything but a kaa::BaseException is reported through
    ///   report_exception(…, "Exception while emitting signal") and the others still run; a
    ///   BaseException (InProgressAborted, SystemExit) propagates and later callbacks are not
    ///   called. Exceptions from the changed callback propagate too.
    /// Returns false iff some callback returned exactly `false`; true with no callbacks.
    bool emit(Args... args);
    /// Queues an emission for the next connection: when a callback is next connected, every
    /// queued emission is replayed to it alone, in order, after the changed callback. (If it
    /// is a once connection, only the first reaches it; the rest are dropped.)
    void emit_deferred(Args... args);
    /// emit() if anything is connected (returns its result), else emit_deferred() (returns
    /// std::nullopt).
    std::optional<bool> emit_when_handled(Args... args);

    /// The number of connections, after removing weak ones whose owner is gone (each removal
    /// calls the changed callback).
    std::size_t count() const;
    /// count() == 0.
    bool empty() const { return count() == 0; }

    /// Sets (or, with an empty function, clears) the callback told about every connect and
    /// every disconnect that removed something. It runs inline, after the change; if it throws
    /// CallableError it is dropped (kaa), anything else propagates to the caller.
    void set_changed_callback(changed_callback changed) { core_->changed = std::move(changed); }

private:
    using Entry = detail::SignalEntry<Args...>;
    using EntryPtr = std::shared_ptr<Entry>;

    struct Core;
    // One emit_deferred() call, waiting for the next connection.
    struct Deferred {
        virtual ~Deferred() = default;
        virtual void replay(Core& core, const EntryPtr& entry) = 0;
    };
    template <class Tuple>
    struct DeferredArgs;

    // Shared so that an emission survives the Signal being destroyed by one of its callbacks.
    struct Core : std::enable_shared_from_this<Core> {
        Signal* owner = nullptr;                          // null once the Signal is destroyed
        std::vector<EntryPtr> entries;                    // connection order
        changed_callback changed;                         // may be empty
        std::vector<std::unique_ptr<Deferred>> deferred;  // emit_deferred() queue
    };

    struct ConnectOptions {
        bool once = false;
        bool first = false;
    };

    template <class F, class... Bound>
    Connection connect_strong(ConnectOptions opts, F f, Bound... bound);
    template <class P, class F, class... Bound>
    Connection connect_weak_impl(ConnectOptions opts, const P& owner, F f, Bound... bound);
    Connection add(EntryPtr entry, ConnectOptions opts);
    template <class Pred>
    bool remove_if(Pred pred);

    static bool remove_entry(Core& core, const detail::SignalEntryBase* entry);
    static bool detach_entry(void* core, detail::SignalEntryBase* entry) {
        // Keeps the core alive in case the changed callback destroys the Signal.
        std::shared_ptr<Core> keep = static_cast<Core*>(core)->shared_from_this();
        return remove_entry(*keep, entry);
    }
    static void prune(Core& core);
    static void notify(Core& core, SignalAction action);
    static bool dispatch(Core& core, const EntryPtr& entry, detail::signal_param_t<Args>... args);

    template <class... A>
    friend InProgress<detail::signal_result_t<A...>> inprogress(Signal<A...>& signal);

    std::shared_ptr<Core> core_;
};

// ---------------------------------------------------------------- Signals

/// An ordered collection name → Signal<Args...> (kaa.Signals, §3.4); all signals of one
/// collection share the signature. Copies and the collections made by subset() and add()
/// share the same Signal objects. Lookups are linear (collections are small).
/// Thread safety: main-loop thread only.
template <class... Args>
class Signals {
public:
    using signal_type = Signal<Args...>;

    /// An empty collection.
    Signals() = default;
    /// New signals with these names, in this order: `Signals<int> s{"a", "b"}`. Throws
    /// std::invalid_argument for a duplicate name.
    Signals(std::initializer_list<std::string> names) {
        for (const auto& n : names) insert(n, std::make_shared<signal_type>());
    }

    /// The signal called `name`; throws std::out_of_range naming it if there is none.
    signal_type& operator[](std::string_view name) const { return *find_or_throw(name); }
    /// Whether there is a signal called `name`.
    bool contains(std::string_view name) const noexcept { return find(name) != nullptr; }
    /// The number of signals.
    std::size_t size() const noexcept { return entries_.size(); }
    /// The names, in order.
    std::vector<std::string> keys() const;
    /// The signals, in the order of keys() (shared, not copied).
    std::vector<std::shared_ptr<signal_type>> values() const;

    /// A new collection of the named signals, in the given order, sharing them. Throws
    /// std::out_of_range for an unknown name.
    template <detail::signal_name... Names>
    Signals subset(const Names&... names) const;
    /// A new collection: these signals followed by new ones with the given names. This one is
    /// unchanged. Throws std::invalid_argument for a name already present.
    template <detail::signal_name... Names>
    Signals add(const Names&... names) const;
    /// A new collection: these signals followed by `other`'s (shared). This one is unchanged.
    /// Throws std::invalid_argument for a name present in both.
    Signals add(const Signals& other) const;
    /// Removes the name (its Signal lives on where shared); returns whether it was there.
    bool erase(std::string_view name);

    /// `(*this)[name].connect(f, bound...)`.
    template <class F, class... Bound>
    Connection connect(std::string_view name, F f, Bound... bound) const {
        return (*this)[name].connect(std::move(f), std::move(bound)...);
    }
    /// `(*this)[name].emit(args...)`.
    bool emit(std::string_view name, Args... args) const {
        return (*this)[name].emit(std::forward<Args>(args)...);
    }
    /// `(*this)[name].count()`.
    std::size_t count(std::string_view name) const { return (*this)[name].count(); }

    /// An InProgressAny over the next emission of each signal, in key order: by default it
    /// finishes with (index, value) of the first signal emitted — read the value with
    /// `result.result<typename Signal<Args...>::result_type>()`.
    InProgressAny any(FinishMode mode = FINISH_IDX_RESULT,
                      std::function<bool(const SubResult&)> filter = {}) const {
        return InProgressAny(next_emissions(), mode, std::move(filter));
    }
    /// An InProgressAll finished once every signal has been emitted.
    InProgressAll all(FinishMode mode = FINISH_SELF) const {
        return InProgressAll(next_emissions(), mode);
    }

private:
    std::vector<InProgressBase> next_emissions() const {
        std::vector<InProgressBase> ips;
        for (const auto& entry : entries_) ips.push_back(kaa::inprogress(*entry.second));
        return ips;
    }
    const std::shared_ptr<signal_type>* find(std::string_view name) const noexcept;
    const std::shared_ptr<signal_type>& find_or_throw(std::string_view name) const;
    void insert(std::string name, std::shared_ptr<signal_type> signal);

    std::vector<std::pair<std::string, std::shared_ptr<signal_type>>> entries_;
};

// ================================================================ definitions

template <class... Args>
template <class Tuple>
struct Signal<Args...>::DeferredArgs final : Signal<Args...>::Deferred {
    explicit DeferredArgs(Tuple a) : args(std::move(a)) {}
    void replay(Core& core, const EntryPtr& entry) override {
        std::apply([&](auto&... a) { Signal::dispatch(core, entry, a...); }, args);
    }
    Tuple args;
};

template <class... Args>
Signal<Args...>::~Signal() {
    core_->owner = nullptr;
    for (const auto& e : core_->entries) e->connected = false;
}

template <class... Args>
template <class F, class... Bound>
Connection Signal<Args...>::connect_strong(ConnectOptions opts, F f, Bound... bound) {
    // A wrong signature stops at this one static_assert: the else branch, which would add
    // pages of std::invoke errors, is not instantiated then.
    if constexpr (!detail::connectable_v<Signal, F, Bound...>) {
        static_assert(detail::connectable_v<Signal, F, Bound...>,
                      "kaa::Signal::connect: the callback must be callable with the signal's "
                      "arguments (Args...), then the bound arguments if any: f(args..., bound...)");
        return Connection();
    } else {
        if (detail::is_null_callable(f)) throw TypeError("kaa::Signal: callback must be callable");
        using C = Callable<BoundArgs::last, F, Bound...>;
        return add(std::make_shared<detail::CallableSignalEntry<C, Args...>>(
                       C(std::move(f), std::move(bound)...)),
                   opts);
    }
}

template <class... Args>
template <class P, class F, class... Bound>
Connection Signal<Args...>::connect_weak_impl(ConnectOptions opts, const P& owner, F f,
                                              Bound... bound) {
    using O = detail::owner_of_t<P>;
    // As connect_strong(): a wrong signature stops at the static_assert.
    if constexpr (!detail::weak_connectable_v<Signal, O, F, Bound...>) {
        static_assert(detail::weak_connectable_v<Signal, O, F, Bound...>,
                      "kaa::Signal::connect_weak: the callback must be callable with the "
                      "signal's arguments (Args...), then the bound arguments if any: "
                      "f(args..., bound...), or (owner->*f)(args..., bound...) for a member "
                      "pointer of the owner");
        return Connection();
    } else {
        if (detail::is_null_callable(f)) throw TypeError("kaa::Signal: callback must be callable");
        using C = WeakCallable<O, F, Bound...>;
        return add(std::make_shared<detail::CallableSignalEntry<C, Args...>>(
                       C(std::weak_ptr<O>(owner), std::move(f), std::move(bound)...)),
                   opts);
    }
}

template <class... Args>
Connection Signal<Args...>::add(EntryPtr entry, ConnectOptions opts) {
    std::shared_ptr<Core> core = core_;  // the changed callback or a replay may destroy *this
    prune(*core);
    if (!entry->alive()) return Connection();
    if (core->entries.size() >= max_connections) {
        throw std::invalid_argument("Number of callbacks exceeds Signal::max_connections limit (" +
                                    std::to_string(max_connections) + ")");
    }
    entry->once = opts.once;
    entry->core = core.get();
    entry->detach = &Signal::detach_entry;
    if (opts.first) {
        core->entries.insert(core->entries.begin(), entry);
    } else {
        core->entries.push_back(entry);
    }
    entry->connected = true;
    Connection result(entry);
    notify(*core, SignalAction::connected);
    if (!core->deferred.empty()) {
        // Replayed to this connection only; later emit_deferred() calls queue for the next.
        std::vector<std::unique_ptr<Deferred>> queued = std::move(core->deferred);
        core->deferred.clear();
        for (const auto& d : queued) {
            if (!entry->connected) break;
            d->replay(*core, entry);
        }
    }
    return result;
}

template <class... Args>
bool Signal<Args...>::remove_entry(Core& core, const detail::SignalEntryBase* entry) {
    for (auto it = core.entries.begin(); it != core.entries.end(); ++it) {
        if (it->get() != entry) continue;
        EntryPtr keep = std::move(*it);  // destroyed after the changed callback ran
        core.entries.erase(it);
        keep->connected = false;
        notify(core, SignalAction::disconnected);
        return true;
    }
    return false;
}

template <class... Args>
template <class Pred>
bool Signal<Args...>::remove_if(Pred pred) {
    std::shared_ptr<Core> core = core_;
    std::vector<EntryPtr> removed;
    std::vector<EntryPtr> kept;
    for (auto& e : core->entries) {
        (pred(*e) ? removed : kept).push_back(std::move(e));
    }
    core->entries = std::move(kept);
    if (removed.empty()) return false;
    for (const auto& e : removed) e->connected = false;
    notify(*core, SignalAction::disconnected);
    return true;
}

template <class... Args>
bool Signal<Args...>::disconnect(const Connection& c) {
    auto e = c.entry_.lock();
    if (!e || !e->connected || e->core != core_.get()) return false;
    std::shared_ptr<Core> core = core_;
    return remove_entry(*core, e.get());
}

template <class... Args>
template <detail::comparable_callable F>
bool Signal<Args...>::disconnect(const F& f) {
    using D = std::decay_t<F>;
    const D wanted = f;
    return remove_if([&](const Entry& e) {
        const void* t = e.target(typeid(D));
        return t != nullptr && *static_cast<const D*>(t) == wanted;
    });
}

template <class... Args>
template <detail::comparable_callable F, detail::comparable_arg B0, detail::comparable_arg... Bound>
bool Signal<Args...>::disconnect(const F& f, const B0& b0, const Bound&... bound) {
    using D = std::decay_t<F>;
    using T = std::tuple<std::decay_t<B0>, std::decay_t<Bound>...>;
    const D wanted = f;
    const T wanted_bound(b0, bound...);
    return remove_if([&](const Entry& e) {
        const void* t = e.target(typeid(D));
        const void* b = e.bound_args(typeid(T));
        return t != nullptr && b != nullptr && *static_cast<const D*>(t) == wanted &&
               *static_cast<const T*>(b) == wanted_bound;
    });
}

template <class... Args>
void Signal<Args...>::disconnect_all() {
    std::shared_ptr<Core> core = core_;
    prune(*core);
    if (core->entries.empty()) return;
    std::vector<EntryPtr> removed = std::move(core->entries);
    core->entries.clear();
    for (const auto& e : removed) e->connected = false;
    notify(*core, SignalAction::disconnected);
}

template <class... Args>
void Signal<Args...>::prune(Core& core) {
    std::vector<EntryPtr> dead;
    for (const auto& e : core.entries) {
        if (!e->alive()) dead.push_back(e);
    }
    // One removal (and changed callback) per entry, as kaa does when a weakref dies.
    for (const auto& e : dead) {
        if (e->connected) remove_entry(core, e.get());
    }
}

template <class... Args>
void Signal<Args...>::notify(Core& core, SignalAction action) {
    if (!core.changed || core.owner == nullptr) return;
    changed_callback cb = core.changed;  // it may replace or clear itself
    try {
        cb(*core.owner, action);
    } catch (const CallableError&) {
        core.changed = nullptr;
    }
}

template <class... Args>
bool Signal<Args...>::dispatch(Core& core, const EntryPtr& entry,
                               detail::signal_param_t<Args>... args) {
    if (!entry->alive()) {
        remove_entry(core, entry.get());
        return true;
    }
    if (entry->once) remove_entry(core, entry.get());
    try {
        switch (entry->invoke(args...)) {
            case detail::CallOutcome::keep_going:
                return true;
            case detail::CallOutcome::returned_false:
                return false;
            case detail::CallOutcome::dead:
                // The owner died between alive() and the call (another thread).
                if (entry->connected) remove_entry(core, entry.get());
                return true;
        }
    } catch (const BaseException&) {
        throw;
    } catch (...) {
        report_exception(std::current_exception(), "Exception while emitting signal");
    }
    return true;
}

template <class... Args>
bool Signal<Args...>::emit(Args... args) {
    if (core_->entries.empty()) return true;  // the common case: no copy, no atomics
    std::shared_ptr<Core> core = core_;       // a callback may destroy *this
    const std::vector<EntryPtr> snapshot = core->entries;
    bool result = true;
    for (const auto& e : snapshot) {
        // Skips entries disconnected by an earlier callback, and all of them once a callback
        // destroyed the signal (~Signal clears `connected`).
        if (!e->connected) continue;
        if (!dispatch(*core, e, args...)) result = false;
    }
    return result;
}

template <class... Args>
void Signal<Args...>::emit_deferred(Args... args) {
    using Tuple = std::tuple<std::decay_t<Args>...>;
    core_->deferred.push_back(
        std::make_unique<DeferredArgs<Tuple>>(Tuple(std::forward<Args>(args)...)));
}

template <class... Args>
std::optional<bool> Signal<Args...>::emit_when_handled(Args... args) {
    if (count() > 0) return emit(std::forward<Args>(args)...);
    emit_deferred(std::forward<Args>(args)...);
    return std::nullopt;
}

template <class... Args>
std::size_t Signal<Args...>::count() const {
    std::shared_ptr<Core> core = core_;
    prune(*core);
    return core->entries.size();
}

template <class... Args>
InProgress<detail::signal_result_t<Args...>> inprogress(Signal<Args...>& signal) {
    static_assert(
        (std::constructible_from<std::decay_t<Args>, detail::signal_param_t<Args>> && ...),
        "kaa::inprogress(Signal&): the result stores copies of the emitted arguments, "
        "so they must be copyable");
    using R = detail::signal_result_t<Args...>;
    InProgress<R> ip;
    signal.add(std::make_shared<detail::InProgressSignalEntry<Args...>>(ip), {.once = true});
    return ip;
}

template <class... Args>
std::vector<std::string> Signals<Args...>::keys() const {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& [name, signal] : entries_) out.push_back(name);
    return out;
}

template <class... Args>
std::vector<std::shared_ptr<Signal<Args...>>> Signals<Args...>::values() const {
    std::vector<std::shared_ptr<signal_type>> out;
    out.reserve(entries_.size());
    for (const auto& [name, signal] : entries_) out.push_back(signal);
    return out;
}

template <class... Args>
template <detail::signal_name... Names>
Signals<Args...> Signals<Args...>::subset(const Names&... names) const {
    Signals out;
    (out.insert(std::string(std::string_view(names)), find_or_throw(names)), ...);
    return out;
}

template <class... Args>
template <detail::signal_name... Names>
Signals<Args...> Signals<Args...>::add(const Names&... names) const {
    Signals out = *this;
    (out.insert(std::string(std::string_view(names)), std::make_shared<signal_type>()), ...);
    return out;
}

template <class... Args>
Signals<Args...> Signals<Args...>::add(const Signals& other) const {
    Signals out = *this;
    for (const auto& [name, signal] : other.entries_) out.insert(name, signal);
    return out;
}

template <class... Args>
bool Signals<Args...>::erase(std::string_view name) {
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        if (it->first == name) {
            entries_.erase(it);
            return true;
        }
    }
    return false;
}

template <class... Args>
const std::shared_ptr<Signal<Args...>>* Signals<Args...>::find(
    std::string_view name) const noexcept {
    for (const auto& [key, signal] : entries_) {
        if (key == name) return &signal;
    }
    return nullptr;
}

template <class... Args>
const std::shared_ptr<Signal<Args...>>& Signals<Args...>::find_or_throw(
    std::string_view name) const {
    const auto* s = find(name);
    if (s == nullptr) {
        throw std::out_of_range("kaa::Signals: no signal named '" + std::string(name) + "'");
    }
    return *s;
}

template <class... Args>
void Signals<Args...>::insert(std::string name, std::shared_ptr<signal_type> signal) {
    if (find(name) != nullptr) {
        throw std::invalid_argument("kaa::Signals: duplicate signal name '" + name + "'");
    }
    entries_.emplace_back(std::move(name), std::move(signal));
}

}  // namespace kaa
