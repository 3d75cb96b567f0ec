#pragma once
// kaa::coroutine(options, callable): kaa's @coroutine decorator — interval, policy, progress
// and group — wrapped around any callable that returns a kaa::Coroutine<T>.
//
//   auto singleton = kaa::coroutine({.policy = kaa::POLICY_SINGLETON},
//                                   []() -> kaa::Coroutine<> { co_await kaa::delay(5s); });
//   singleton();  // starts it
//   singleton();  // returns the same, still running, coroutine
//
// Policies (kaa-reference §1.7):
//   POLICY_SINGLETON    while a call is unfinished, every call returns that same coroutine
//                       (later arguments are ignored); after it finished, a call starts anew.
//   POLICY_SYNCHRONIZED calls run strictly one after another in call order; a queued call
//                       starts when its predecessor ends (even if it failed). Aborting a queued
//                       call removes it from the queue (kaa-reference Q12).
//   POLICY_PASS_LAST    the callable receives `last`, the most recent unfinished call
//                       (std::nullopt if none), as its first argument.
// A call that finishes in its eager first step is never recorded.
//
// State: for a member function pointer the policy state is kept per object (the first
// argument), and `group` shares it between wrappers of the same object; otherwise per wrapper
// (or per group name). Lambda captures: the wrapper owns the callable and every coroutine it
// starts keeps it alive, so a capturing lambda is safe across suspensions.
//
// Threads: main-loop thread only.

#include <kaa/detail/coroutine_impl.hpp>
#include <kaa/status.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace kaa {

/// A coroutine policy; see the file comment.
enum class Policy { none, singleton, synchronized, pass_last };
inline constexpr Policy POLICY_SINGLETON = Policy::singleton;
inline constexpr Policy POLICY_SYNCHRONIZED = Policy::synchronized;
inline constexpr Policy POLICY_PASS_LAST = Policy::pass_last;

/// Options of kaa::coroutine().
struct CoroutineOptions {
    /// Minimum delay before each resumption (after NotFinished or an awaited InProgress).
    std::chrono::nanoseconds interval{0};
    /// Policy::none, POLICY_SINGLETON, POLICY_SYNCHRONIZED or POLICY_PASS_LAST.
    Policy policy = Policy::none;
    /// Pass a fresh InProgressStatus& as the first argument of each call (also progress()).
    bool progress = false;
    /// Share policy state with other wrappers of the same object using the same name.
    std::string group;
};

namespace detail {

/// The unfinished calls of one policy scope, oldest first.
struct PolicyState {
    struct Entry {
        InProgressBase ip;
        CoroutineBase* co;
    };
    std::vector<Entry> calls;
};

/// Where policy state lives: (object or wrapper identity, group) → state. Loop thread only.
std::shared_ptr<PolicyState> policy_state(const void* scope, const std::string& group);
/// Drops the entry if its state has no calls left.
void policy_state_release(const void* scope, const std::string& group);

template <class R>
struct coroutine_value;
template <class T>
struct coroutine_value<Coroutine<T>> {
    using type = T;
};

}  // namespace detail

/// The callable returned by kaa::coroutine().
template <class F>
class CoroutineFunction {
public:
    CoroutineFunction(CoroutineOptions opts, F f)
        : opts_(std::move(opts)), fn_(std::make_shared<F>(std::move(f))) {}

    /// Calls the wrapped callable under the configured policy; returns its coroutine.
    template <class... Args>
    auto operator()(Args&&... args) {
        const void* scope = fn_.get();
        if constexpr (std::is_member_function_pointer_v<F>) {
            scope = object_address(args...);
        }
        const std::string group = opts_.group;
        std::shared_ptr<detail::PolicyState> st;
        if (opts_.policy != Policy::none) st = detail::policy_state(scope, group);
        return call(st, scope, group, std::forward<Args>(args)...);
    }

private:
    template <class First, class... Rest>
    static const void* object_address(First& first, Rest&...) {
        if constexpr (std::is_pointer_v<std::decay_t<First>>) {
            return static_cast<const void*>(first);
        } else {
            return static_cast<const void*>(std::addressof(first));
        }
    }

    // The prefix arguments, in order: the object (member functions), the status
    // (progress), `last` (POLICY_PASS_LAST); then the caller's arguments.
    template <class... Prefix>
    auto invoke_prefixed(Prefix&&... prefix) {
        return std::invoke(*fn_, std::forward<Prefix>(prefix)...);
    }
    template <class... Args>
    auto invoke(InProgressStatus* status, const InProgressBase* last, Args&&... args) {
        if constexpr (std::is_member_function_pointer_v<F>) {
            return invoke_member(status, last, std::forward<Args>(args)...);
        } else {
            return invoke_after(status, last, std::forward<Args>(args)...);
        }
    }
    template <class Obj, class... Args>
    auto invoke_member(InProgressStatus* status, const InProgressBase* last, Obj&& obj,
                       Args&&... args) {
        return invoke_after(status, last, std::forward<Obj>(obj), std::forward<Args>(args)...);
    }
    // Obj (if any) stays in front: it is the first of args for member functions.
    template <class... Args>
    auto invoke_after(InProgressStatus* status, const InProgressBase* last, Args&&... args) {
        if constexpr (std::is_member_function_pointer_v<F>) {
            return insert_after_object(status, last, std::forward<Args>(args)...);
        } else {
            return insert_front(status, last, std::forward<Args>(args)...);
        }
    }
    template <class Obj, class... Args>
    auto insert_after_object(InProgressStatus* status, const InProgressBase* last, Obj&& obj,
                             Args&&... args) {
        if (status && last) {
            return std::invoke(*fn_, std::forward<Obj>(obj), *status, *last,
                               std::forward<Args>(args)...);
        } else if (status) {
            return std::invoke(*fn_, std::forward<Obj>(obj), *status, std::forward<Args>(args)...);
        } else if (last) {
            return std::invoke(*fn_, std::forward<Obj>(obj), *last, std::forward<Args>(args)...);
        }
        return std::invoke(*fn_, std::forward<Obj>(obj), std::forward<Args>(args)...);
    }
    template <class... Args>
    auto insert_front(InProgressStatus* status, const InProgressBase* last, Args&&... args) {
        if (status && last) return std::invoke(*fn_, *status, *last, std::forward<Args>(args)...);
        if (status) return std::invoke(*fn_, *status, std::forward<Args>(args)...);
        if (last) return std::invoke(*fn_, *last, std::forward<Args>(args)...);
        return std::invoke(*fn_, std::forward<Args>(args)...);
    }

    template <class... Args>
    auto call(const std::shared_ptr<detail::PolicyState>& st, const void* scope,
              const std::string& group, Args&&... args) {
        // The branches below differ only in which prefix arguments are passed; which ones
        // exist is fixed per wrapper, so only one of them compiles into a call of the callable.
        InProgressStatus* status_probe = nullptr;
        const InProgressBase* last_probe = nullptr;
        using C = decltype(invoke(status_probe, last_probe, std::forward<Args>(args)...));
        using T = typename detail::coroutine_value<C>::type;

        if (st && opts_.policy == Policy::singleton && !st->calls.empty()) {
            return C(InProgress<T>::from_base(st->calls.back().ip), detail::adopt_coroutine);
        }
        const bool queue = st && opts_.policy == Policy::synchronized && !st->calls.empty();
        std::shared_ptr<InProgressStatus> status;
        if (opts_.progress) status = std::make_shared<InProgressStatus>();
        InProgressBase last;
        if (opts_.policy == Policy::pass_last && st && !st->calls.empty()) {
            last = st->calls.back().ip;
        }

        detail::t_defer_next_start = queue;
        C c = invoke(status.get(), opts_.policy == Policy::pass_last ? &last : nullptr,
                     std::forward<Args>(args)...);
        detail::t_defer_next_start = false;

        c.keep_alive(fn_);
        if (status) c.set_progress(status);
        if (opts_.interval > std::chrono::nanoseconds::zero() && !c.finished()) {
            c.set_interval(opts_.interval);
        }
        if (st && !c.finished()) {
            st->calls.push_back({c, &c.base()});
            watch_end(st, scope, group, c);
        }
        return c;
    }

    static bool is_abort(const std::exception_ptr& e) {
        try {
            std::rethrow_exception(e);
        } catch (const InProgressAborted&) {
            return true;
        } catch (...) {
            return false;
        }
    }

    // On the end of a recorded call: forget it and, if it was the running head of a
    // SYNCHRONIZED queue, start the next one. Returns false (handled) for an abort, as kaa.
    template <class C>
    static void watch_end(std::shared_ptr<detail::PolicyState> st, const void* scope,
                          const std::string& group, C& c) {
        InProgressBase me = c;
        auto done = [st, scope, group, me]() {
            auto& calls = st->calls;
            const bool was_head = !calls.empty() && calls.front().ip == me;
            std::erase_if(calls, [&](const detail::PolicyState::Entry& e) { return e.ip == me; });
            if (was_head && !calls.empty()) calls.front().co->start_deferred();
            if (calls.empty()) detail::policy_state_release(scope, group);
        };
        c.connect_both([done](const auto&...) { done(); }, [done](std::exception_ptr e) {
            done();
            return !is_abort(e);
        });
    }

    CoroutineOptions opts_;
    std::shared_ptr<F> fn_;
};

/// kaa's @coroutine decorator: wraps `f` (returning a kaa::Coroutine<T>) with `opts`.
template <class F>
CoroutineFunction<F> coroutine(CoroutineOptions opts, F f) {
    return CoroutineFunction<F>(std::move(opts), std::move(f));
}

}  // namespace kaa
