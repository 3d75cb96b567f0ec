#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// detail::Access: the library's one door into the internals of its public handles (internal).
//
// Public classes keep what only the library may touch — the shared state behind an InProgress,
// adopting a raw state into a handle, a coroutine's frame bookkeeping, a pool's job queue —
// private, and befriend this one struct; library code reaches them through it, so a user's
// completion list shows no internals and a reader sees at a glance where the library reaches
// in. (asio does the same with small friend classes such as its *_access helpers.)
//
// Every member is a template so that this header needs no complete public type: it is
// included by the public headers that befriend it, before they define their classes.
//
// Threads: as the member it forwards to.

#include <memory>
#include <utility>

namespace kaa::detail {

class StateBase;

struct Access {
    /// The shared state behind an InProgress handle (any handle type). Throws
    /// std::logic_error on an empty handle.
    template <class Handle>
    static StateBase& state(const Handle& h) {
        return h.state();
    }

    /// A handle of type H (InProgressBase, InProgress<T>, …) that takes over one strong
    /// reference to `s`.
    template <class H>
    static H adopt(StateBase* s) noexcept {
        return H::adopt(s);
    }

    /// A new handle of type H to `s` (adds a strong reference).
    template <class H>
    static H share(StateBase* s) noexcept {
        return H::share(s);
    }

    /// A type-erased handle viewed as the typed handle H; the caller guarantees the type.
    template <class H, class Base>
    static H from_base(const Base& b) {
        return H::from_base(b);
    }

    /// Builds a T through one of its private, library-only constructors.
    template <class T, class... A>
    static T make(A&&... args) {
        return T(std::forward<A>(args)...);
    }

    /// A coroutine handle's frame bookkeeping (its CoroutineBase).
    template <class C>
    static auto& coroutine_base(const C& c) {
        return c.base();
    }

    /// Keeps `p` alive as long as the coroutine's frame (lambda captures, policy state).
    template <class C>
    static void keep_alive(C& c, std::shared_ptr<void> p) {
        c.keep_alive(std::move(p));
    }

    /// Queues a job on a ThreadPool, taking over one reference to its state.
    template <class Pool, class Job>
    static void enqueue(Pool& pool, Job* job) {
        pool.enqueue(job);
    }

    /// A ThreadPool's implementation.
    template <class Pool>
    static auto& pool_impl(const Pool& pool) {
        return pool.impl();
    }
};

}  // namespace kaa::detail

#pragma GCC visibility pop
