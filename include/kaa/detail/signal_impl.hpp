#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// Out-of-line template bodies of kaa/signal.hpp (internal).

#include <kaa/detail/loop.hpp>
#include <kaa/signal.hpp>

#include <concepts>
#include <cstddef>
#include <functional>
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

namespace detail {

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

}  // namespace detail

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
    detail::assert_loop_thread("Signal::connect()");
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
    detail::assert_loop_thread("Signal::disconnect()");
    auto e = c.entry_.lock();
    if (!e || !e->connected || e->core != core_.get()) return false;
    std::shared_ptr<Core> core = core_;
    return remove_entry(*core, e.get());
}

template <class... Args>
template <detail::comparable_callable F>
bool Signal<Args...>::disconnect(const F& f) {
    detail::assert_loop_thread("Signal::disconnect()");
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
    detail::assert_loop_thread("Signal::disconnect()");
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
    detail::assert_loop_thread("Signal::disconnect_all()");
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
    detail::assert_loop_thread("Signal::emit()");
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
    detail::assert_loop_thread("Signal::emit_deferred()");
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

#pragma GCC visibility pop
