#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// kaa::synchronized: a recursive lock per object (kaa's synchronized decorator and context
// manager), as a scope guard, a wrapped member function, a callable under an object's lock, or
// a callable with a lock of its own; see the class comment.
//
// Lifetime: an object's lock is an entry of a process-wide registry keyed by the object's
// most-derived address (src/thread/synchronized.cpp): created when the first guard or call
// locks it, removed when nobody holds or waits for it any more. A standard mutex given as the
// object is locked itself and never registered. The own-lock form's lock lives as long as the
// wrapper and its copies. Nothing here needs the main loop.
//
// Threads: every form may be used from any thread; that is its purpose.

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>

namespace kaa::detail {

/// One entry of the per-object lock registry: a recursive mutex that lives while any guard
/// holds it or waits for it.
struct SyncEntry {
    std::recursive_mutex mutex;
    std::size_t users = 0;  ///< guards holding or waiting (registry mutex)
};
/// Locks the recursive mutex of the object at `key` (created on first use); returns the entry
/// for sync_release(). Blocks while another thread holds it.
SyncEntry* sync_acquire(const void* key);
/// Unlocks and, when nobody else holds or waits, removes the entry.
void sync_release(const void* key, SyncEntry* entry) noexcept;

/// The address kaa::synchronized uses as an object's identity: the most-derived object, so a
/// base reference and a derived pointer name the same lock.
template <class P>
const void* address_key(const P* p) noexcept {
    if constexpr (std::is_polymorphic_v<P>) {
        return dynamic_cast<const void*>(p);
    } else {
        return static_cast<const void*>(p);
    }
}
/// The identity of `x` itself.
template <class X>
const void* object_key(const X& x) noexcept {
    return address_key(std::addressof(x));
}

template <class O>
struct sync_is_ref_wrapper : std::false_type {};
template <class O>
struct sync_is_ref_wrapper<std::reference_wrapper<O>> : std::true_type {};

/// The identity of the object a member function is called on: through raw and smart pointers
/// and std::reference_wrapper, else the argument itself.
template <class O>
const void* target_key(const O& o) noexcept {
    if constexpr (std::is_pointer_v<O>) {
        return address_key(o);
    } else if constexpr (sync_is_ref_wrapper<O>::value) {
        return object_key(o.get());
    } else if constexpr (requires {
                             o.operator->();
                             *o;
                         }) {
        return object_key(*o);
    } else {
        return object_key(o);
    }
}

/// Marks the own-lock form of kaa::synchronized (a callable with a lock of its own).
struct own_lock_t {
    explicit own_lock_t() = default;
};

/// The standard mutex types, which kaa::synchronized locks directly (kaa: "with an RLock").
template <class X>
inline constexpr bool is_std_mutex_v =
    std::is_same_v<X, std::mutex> || std::is_same_v<X, std::recursive_mutex> ||
    std::is_same_v<X, std::timed_mutex> || std::is_same_v<X, std::recursive_timed_mutex>;

/// RAII: holds one lock — a standard mutex itself, or the registry lock of an object key.
class SyncLock {
public:
    /// Locks the registry lock of `key`.
    explicit SyncLock(const void* key) : key_(key), entry_(sync_acquire(key)) {}
    /// Locks a standard mutex directly.
    template <class M>
        requires is_std_mutex_v<M>
    explicit SyncLock(M& mutex) : key_(&mutex) {
        mutex.lock();
        unlock_ = [](const void* m) { static_cast<M*>(const_cast<void*>(m))->unlock(); };
    }
    SyncLock(const SyncLock&) = delete;
    SyncLock& operator=(const SyncLock&) = delete;
    ~SyncLock() {
        if (unlock_) {
            unlock_(key_);
        } else {
            sync_release(key_, entry_);
        }
    }

private:
    const void* key_ = nullptr;
    SyncEntry* entry_ = nullptr;
    void (*unlock_)(const void*) = nullptr;  ///< set for a standard mutex
};

/// The lock of `obj` for a kaa::synchronized scope: the mutex itself for a standard mutex,
/// else the registry lock of its address.
template <class X>
SyncLock lock_object(X& obj) {
    if constexpr (is_std_mutex_v<std::remove_cv_t<X>>) {
        return SyncLock(const_cast<std::remove_cv_t<X>&>(obj));
    } else {
        return SyncLock(object_key(obj));
    }
}

}  // namespace kaa::detail

namespace kaa {

/// kaa.synchronized: a recursive lock per object, shared by every use that names the object
/// ([thread.sync.1] — unlike kaa.base, sibling methods and scopes share one lock):
///
///   kaa::synchronized guard(obj);             // scope guard on obj's lock
///   auto m = kaa::synchronized(&Foo::bar);    // m(foo_ptr, args...) runs under *foo_ptr's lock
///   auto f = kaa::synchronized(obj, fn);      // f(args...) runs fn under obj's lock
///   auto g = kaa::synchronized(fn);           // g(args...) under a lock of g's own (and copies')
///
/// An object's lock is found by its most-derived address (through pointers, smart pointers and
/// std::reference_wrapper for member functions), lives while anyone holds or waits for it, and
/// is reentrant: a synchronized method may call a sibling or open a guard on the same object.
/// A standard mutex given as the object (std::mutex, std::recursive_mutex, …) is locked itself
/// (a std::mutex is not reentrant). Threads: thread-safe.
template <class X, class F = void>
class synchronized {
public:
    /// Wraps `f`; calls run under `obj`'s lock (obj must outlive the wrapper).
    synchronized(X& obj, F f) : obj_(&obj), f_(std::move(f)) {}

    /// Calls f(args...) holding the lock.
    template <class... Args>
    decltype(auto) operator()(Args&&... args) const {
        auto lock = detail::lock_object(*obj_);
        return std::invoke(f_, std::forward<Args>(args)...);
    }

private:
    X* obj_;
    F f_;
};

/// The scope-guard form: holds `obj`'s lock from construction to destruction.
template <class X>
    requires(!std::is_member_function_pointer_v<X>)
class synchronized<X, void> {
public:
    /// Locks `obj`'s lock, blocking while another thread holds it.
    explicit synchronized(X& obj) : lock_(detail::lock_object(obj)) {}
    synchronized(const synchronized&) = delete;
    synchronized& operator=(const synchronized&) = delete;

private:
    detail::SyncLock lock_;
};

/// The member-function form: `m(obj, args...)` runs under obj's lock (obj: a reference, a
/// pointer, a smart pointer or a std::reference_wrapper).
template <class M>
    requires std::is_member_function_pointer_v<M>
class synchronized<M, void> {
public:
    /// Wraps the member function `m`.
    explicit synchronized(M m) : m_(m) {}

    /// Calls (obj.*m)(args...) holding obj's lock.
    template <class Obj, class... Args>
    decltype(auto) operator()(Obj&& obj, Args&&... args) const {
        detail::SyncLock lock(detail::target_key(obj));
        return std::invoke(m_, std::forward<Obj>(obj), std::forward<Args>(args)...);
    }

private:
    M m_;
};

/// The own-lock form: calls run under a lock of this wrapper's own (shared by its copies).
template <class F>
class synchronized<F, detail::own_lock_t> {
public:
    explicit synchronized(F f) : s_(std::make_shared<Shared>(std::move(f))) {}

    /// Calls f(args...) holding the wrapper's lock.
    template <class... Args>
    decltype(auto) operator()(Args&&... args) const {
        std::lock_guard lock(s_->mutex);
        return std::invoke(s_->f, std::forward<Args>(args)...);
    }

private:
    struct Shared {
        explicit Shared(F fn) : f(std::move(fn)) {}
        F f;
        std::recursive_mutex mutex;
    };
    std::shared_ptr<Shared> s_;
};

// clang-format off: clang-format 14 breaks a deduction guide after a requires-clause.
/// @cond INTERNAL (deduction guides: which form a kaa::synchronized(...) is)
template <class X>
    requires(!std::is_member_function_pointer_v<std::remove_cv_t<X>> && !std::is_function_v<X>)
synchronized(X&)
->synchronized<X>;
template <class M>
    requires std::is_member_function_pointer_v<M> synchronized(M)
->synchronized<M>;
template <class F>
    requires(!std::is_reference_v<F> && !std::is_member_function_pointer_v<std::remove_cv_t<F>>)
synchronized(F&&)
->synchronized<std::remove_cv_t<F>, detail::own_lock_t>;
template <class R, class... A>
synchronized(R (&)(A...)) -> synchronized<R (*)(A...), detail::own_lock_t>;
template <class X, class F>
synchronized(X&, F) -> synchronized<X, F>;
/// @endcond
// clang-format on

}  // namespace kaa

#pragma GCC visibility pop
