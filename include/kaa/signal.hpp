#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// Signal<Args...>: kaa's list of callbacks called in order by emit(); Signals<Args...>: an
// ordered, named collection of them. Callable and WeakCallable, the callables a Signal is made
// of, are in <kaa/callable.hpp> (docs/semantics.md [sig]).
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
// Threads: main-loop thread only (Signal, Signals, Connection, ScopedConnection); in a debug
// build connect*(), disconnect*() and emit*() on another thread fail an assertion naming the
// call (docs/semantics.md [core.thread.4]).
//
// Layering: a Signal knows nothing of InProgress. inprogress(signal) and the bodies of
// Signals::any() and Signals::all() are in <kaa/signal_inprogress.hpp> (included by
// <kaa/kaa.hpp>); without it, calling any() or all() stops the compilation with a message
// naming that header. This header only declares: the template bodies are in
// <kaa/detail/signal_impl.hpp> (included at the end), the connection types in
// <kaa/detail/signal_entry.hpp>.

#include <kaa/callable.hpp>
#include <kaa/detail/signal_entry.hpp>
#include <kaa/errors.hpp>

#include <concepts>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace kaa {

template <class... Args>
class Signal;
template <class... Args>
class Signals;

// Declared here, defined in <kaa/inprogress.hpp> and <kaa/inprogress_any.hpp>: only named by
// the declarations of inprogress(Signal&) (a friend) and Signals::any()/all().
class InProgressBase;
template <class T>
class InProgress;
class InProgressAny;
class InProgressAll;
class SubResult;
enum class FinishMode;  // scoped, so its underlying type is int without being spelled out

/// What happened to a Signal's connections, as told to its changed callback.
enum class SignalAction {
    connected = 1,     ///< after every connect
    disconnected = 2,  ///< after every call that removed at least one connection
};

// ---------------------------------------------------------------- internals

namespace detail {

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

/// Signals::any() and Signals::all() return an InProgressAny and an InProgressAll, which this
/// header does not know: <kaa/signal_inprogress.hpp> specializes this for both (value = true,
/// default_mode) and defines them. Without it, a call instantiates this primary template
/// (from their requires-clause) and stops the compilation with the message below.
template <class Result>
struct signals_inprogress {
    static_assert(!std::is_same_v<Result, Result>,
                  "kaa::Signals::any()/all(): include <kaa/signal_inprogress.hpp> (or "
                  "<kaa/kaa.hpp>) to use them");
    static constexpr bool value = false;
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
    /// Takes over `o`'s connection; `o` owns nothing.
    ScopedConnection(ScopedConnection&& o) noexcept : c_(std::exchange(o.c_, Connection())) {}
    /// Disconnects the connection owned so far, then takes over `o`'s.
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
concept comparable_callable = !std::same_as<std::decay_t<F>, Connection> &&
                              std::equality_comparable<std::decay_t<F>>;
/// A bound argument Signal::disconnect(f, bound...) can compare.
template <class T>
concept comparable_arg = std::equality_comparable<std::decay_t<T>>;
/// A signal name for Signals::subset() and Signals::add().
template <class T>
concept signal_name = std::convertible_to<const T&, std::string_view>;
}  // namespace detail

// ---------------------------------------------------------------- Signal

/// A list of callbacks called in connection order by emit() (kaa.Signal, [sig]). See the file
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
    /// kaa::TypeError for a null function pointer or empty std::function. Loop thread only, as
    /// every connect*() (debug builds assert it, docs/semantics.md [core.thread.4]).
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

    /// Removes exactly the connection `c` names (identity, not equality: [sig.disconnect.1]).
    /// Returns false if it is not connected to this signal. Calls the changed callback. Loop
    /// thread only, as every disconnect*().
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
    /// Loop thread only (debug builds assert it).
    bool emit(Args... args);
    /// Queues an emission for the next connection: when a callback is next connected, every
    /// queued emission is replayed to it alone, in order, after the changed callback. (If it
    /// is a once connection, only the first reaches it; the rest are dropped.) Loop thread only.
    void emit_deferred(Args... args);
    /// emit() if anything is connected (returns its result), else emit_deferred() (returns
    /// std::nullopt). Loop thread only.
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

/// An ordered collection name → Signal<Args...> (kaa.Signals, [sig.signals]); all signals of one
/// collection share the signature. Copies and the collections made by subset() and add()
/// share the same Signal objects. Lookups are linear (collections are small).
/// Thread safety: main-loop thread only.
template <class... Args>
class Signals {
public:
    /// The type of each member signal.
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
    /// `mode` defaults to FINISH_IDX_RESULT. Defined in <kaa/signal_inprogress.hpp>: a template
    /// only so that this header needs no InProgress (leave `Any` as is).
    template <class Any = InProgressAny>
        requires detail::signals_inprogress<Any>::value Any
        any(FinishMode mode = detail::signals_inprogress<Any>::default_mode,
            std::function<bool(const SubResult&)> filter = {})
    const;
    /// An InProgressAll finished once every signal has been emitted.
    /// `mode` defaults to FINISH_SELF. Defined in <kaa/signal_inprogress.hpp>, as any().
    template <class All = InProgressAll>
        requires detail::signals_inprogress<All>::value All
        all(FinishMode mode = detail::signals_inprogress<All>::default_mode)
    const;

private:
    // The next emission of each signal, in key order (defined in kaa/signal_inprogress.hpp).
    std::vector<InProgressBase> next_emissions() const;
    const std::shared_ptr<signal_type>* find(std::string_view name) const noexcept;
    const std::shared_ptr<signal_type>& find_or_throw(std::string_view name) const;
    void insert(std::string name, std::shared_ptr<signal_type> signal);

    std::vector<std::pair<std::string, std::shared_ptr<signal_type>>> entries_;
};

}  // namespace kaa

#include <kaa/detail/signal_impl.hpp>

#pragma GCC visibility pop
