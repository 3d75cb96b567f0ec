#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// kaa::coroutine(options, callable): kaa's @coroutine decorator — interval, policy, progress
// and group — wrapped around any callable that returns a kaa::Coroutine<T>.
//
//   auto singleton = kaa::coroutine({.policy = kaa::POLICY_SINGLETON},
//                                   []() -> kaa::Coroutine<> { co_await kaa::delay(5s); });
//   singleton();  // starts it
//   singleton();  // returns the same, still running, coroutine
//
// The callable must return a kaa::Coroutine<T> (kaa raises TypeError "@coroutine decorated
// function is not a generator"; C++ rejects it at compile time: kaa::coroutine() static_asserts
// when the callable's return type is known, and the wrapper's call operator is constrained, so
// `std::invocable<Wrapper, Args...>` is false for a callable that does not return a coroutine).
//
// Arguments the wrapper passes in front of the caller's (after the object, for a member
// function pointer), in this order:
//   progress = true     a fresh InProgressStatus& per call; the returned coroutine's
//                       progress() is that same object.
//   POLICY_PASS_LAST    `last`: an InProgressBase (lvalue) naming the most recent unfinished
//                       call, or an empty handle if there is none. Take it as
//                       `kaa::InProgressBase last` or `const kaa::InProgressBase& last`.
// If the callable does not accept what the options pass, the call throws kaa::TypeError.
//
// Options that reach the frame — interval and the SYNCHRONIZED queueing — are handed to the
// first coroutine frame created by the call: the callable should be the coroutine itself (or
// return one without first calling another coroutine).
//
// Policies (docs/semantics.md [coro.policy]):
//   POLICY_SINGLETON    while a call is unfinished, every call returns that same coroutine
//                       (later arguments are ignored); after it finished, a call starts anew.
//   POLICY_SYNCHRONIZED calls run strictly one after another in call order; a queued call
//                       starts when its predecessor ends (even if it failed). Aborting a queued
//                       call removes it from the queue; its successor then waits for the
//                       aborted call's predecessor (docs/semantics.md [coro.policy.5]).
//   POLICY_PASS_LAST    see `last` above.
// A call that finishes in its eager first step is never recorded.
//
// State: for a member function pointer the policy state is kept per object (the first
// argument: a reference, pointer, smart pointer or std::reference_wrapper), per wrapper — or,
// with `group`, shared by the wrappers of that object that use the same group name. For any
// other callable it is per wrapper (copies of a wrapper share it). Lambda captures: the
// wrapper owns the callable and every coroutine it starts keeps it alive, so a capturing
// lambda is safe across suspensions.
//
// Threads: main-loop thread only.

#include <kaa/coroutine.hpp>
#include <kaa/errors.hpp>
#include <kaa/status.hpp>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <deque>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace kaa {

/// A coroutine policy; see the file comment.
enum class Policy { none, singleton, synchronized, pass_last };
/// While a call is unfinished, every call returns that same coroutine.
inline constexpr Policy POLICY_SINGLETON = Policy::singleton;
/// Calls run one after another, in call order.
inline constexpr Policy POLICY_SYNCHRONIZED = Policy::synchronized;
/// Each call gets the most recent unfinished call (`last`) as an argument.
inline constexpr Policy POLICY_PASS_LAST = Policy::pass_last;

/// Options of kaa::coroutine().
struct CoroutineOptions {
    /// Delay before each resumption: after an awaited InProgress finished, and a fixed rate at
    /// NotFinished (one interval after the previous resumption was due).
    std::chrono::nanoseconds interval{0};
    /// Policy::none, POLICY_SINGLETON, POLICY_SYNCHRONIZED or POLICY_PASS_LAST.
    Policy policy = Policy::none;
    /// Pass a fresh InProgressStatus& as the first argument of each call (also progress()).
    bool progress = false;
    /// Share policy state with other wrappers of the same object using the same name.
    std::string group{};
};

/// True for kaa::Coroutine<T>.
template <class R>
inline constexpr bool is_coroutine_v = false;
/// True for kaa::Coroutine<T>.
template <class T>
inline constexpr bool is_coroutine_v<Coroutine<T>> = true;

namespace detail {

/// Identifies one policy scope: (object or null, wrapper or null, group).
struct PolicyKey {
    const void* object = nullptr;   ///< the object of a member function call, else null
    const void* wrapper = nullptr;  ///< the wrapper's identity unless a group names the scope
    std::string group{};
    // Written out, not a defaulted <=>: libc++ 14's std::string has no <=>, so a defaulted one
    // is deleted there. std::less gives unrelated pointers a total order.
    friend bool operator==(const PolicyKey& a, const PolicyKey& b) {
        return a.object == b.object && a.wrapper == b.wrapper && a.group == b.group;
    }
    friend bool operator<(const PolicyKey& a, const PolicyKey& b) {
        std::less<const void*> less;
        if (a.object != b.object) return less(a.object, b.object);
        if (a.wrapper != b.wrapper) return less(a.wrapper, b.wrapper);
        return a.group < b.group;
    }
};

/// The unfinished calls of one policy scope, oldest first.
struct PolicyState {
    struct Entry {
        InProgressBase ip;
        CoroutineBase* co;
    };
    std::deque<Entry> calls;  ///< a deque: the head (oldest) is the one that usually ends
};

/// The state of `key`: the stored one, or a new one (not stored until policy_state_attach()).
/// Loop thread only.
std::shared_ptr<PolicyState> policy_state(const PolicyKey& key);
/// Stores `st` as the state of `key` (it may have been dropped while the call ran).
void policy_state_attach(const PolicyKey& key, const std::shared_ptr<PolicyState>& st);
/// Forgets the state of `key` if it is `st` and has no calls left.
void policy_state_release(const PolicyKey& key, const PolicyState* st);

/// POLICY_SYNCHRONIZED: the queued call `me` starts when its predecessor in `st` ends, through a
/// listener connected to the predecessor now (kaa's connect_both at call time), so listeners
/// connected to the predecessor before run first. If the predecessor ended without running
/// (a queued call aborted, closed or finished from outside), `me` is chained to the call before
/// it instead; at the head of the queue it starts (docs/semantics.md [coro.policy.5]).
inline void chain_synchronized(const std::shared_ptr<PolicyState>& st, const InProgressBase& me) {
    auto& calls = st->calls;
    // A new call is the last one, a call whose predecessor ended is usually the first: look at
    // both ends before searching (a queue of 100,000 calls would otherwise be quadratic).
    auto is_me = [&](const PolicyState::Entry& e) { return e.ip == me; };
    auto it = !calls.empty() && is_me(calls.back())
                  ? std::prev(calls.end())
                  : std::find_if(calls.begin(), calls.end(), is_me);
    if (it == calls.end()) return;  // it ended itself
    if (it == calls.begin()) {
        it->co->start_deferred();
        return;
    }
    // Holds the call weakly: one that ends while queued is freed at once ([coro.close.2]).
    auto* l = new FnListener(
        [st, weak = WeakState(&Access::state(me))](StateBase&) {
            if (StateBase* s = weak.lock())
                chain_synchronized(st, Access::adopt<InProgressBase>(s));
            return true;
        },
        ListenKind::both);
    l->id = next_listener_id();
    Access::state(std::prev(it)->ip).add_listener(l);
}

// ---- what the wrapper may tell about a callable before it is called (decoration time)

/// known = the callable's return type can be read without arguments (function pointer,
/// member function pointer, class with one non-template operator()).
template <class F, class = void>
struct callable_result {
    static constexpr bool known = false;
    using type = void;
};
template <class R, class... A>
struct callable_result<R (*)(A...), void> {
    static constexpr bool known = true;
    using type = R;
};
template <class R, class... A>
struct callable_result<R (*)(A...) noexcept, void> {
    static constexpr bool known = true;
    using type = R;
};
#define KAA_MEMBER_RESULT(QUALIFIERS)                         \
    template <class R, class C, class... A>                   \
    struct callable_result<R (C::*)(A...) QUALIFIERS, void> { \
        static constexpr bool known = true;                   \
        using type = R;                                       \
    };
KAA_MEMBER_RESULT()
KAA_MEMBER_RESULT(const)
KAA_MEMBER_RESULT(&)
KAA_MEMBER_RESULT(const&)
KAA_MEMBER_RESULT(&&)
KAA_MEMBER_RESULT(const&&)
KAA_MEMBER_RESULT(noexcept)
KAA_MEMBER_RESULT(const noexcept)
KAA_MEMBER_RESULT(&noexcept)
KAA_MEMBER_RESULT(const& noexcept)
KAA_MEMBER_RESULT(&&noexcept)
KAA_MEMBER_RESULT(const&& noexcept)
#undef KAA_MEMBER_RESULT
template <class F>
struct callable_result<F, std::void_t<decltype(&F::operator())>>
    : callable_result<decltype(&F::operator())> {};

/// What kaa::coroutine() static_asserts: the callable does not visibly return something else.
template <class F>
inline constexpr bool may_return_coroutine = !callable_result<F>::known ||
                                             is_coroutine_v<typename callable_result<F>::type>;

// ---- the arguments the wrapper inserts (see the file comment)

/// Which prefix arguments a call passes.
enum class Prefix { none, status, last, status_last };

template <class... T>
struct type_list {};

template <Prefix K>
struct prefix_list;
template <>
struct prefix_list<Prefix::none> {
    using type = type_list<>;
};
template <>
struct prefix_list<Prefix::status> {
    using type = type_list<InProgressStatus&>;
};
template <>
struct prefix_list<Prefix::last> {
    using type = type_list<InProgressBase&>;
};
template <>
struct prefix_list<Prefix::status_last> {
    using type = type_list<InProgressStatus&, InProgressBase&>;
};

/// The full argument list: the prefix goes first, or after the object for a member function.
template <bool Member, class Pre, class... Args>
struct arrange {
    using type = void;  // a member function called without an object: not invocable
};
template <class... P, class... Args>
struct arrange<false, type_list<P...>, Args...> {
    using type = type_list<P..., Args...>;
};
template <class... P, class Obj, class... Rest>
struct arrange<true, type_list<P...>, Obj, Rest...> {
    using type = type_list<Obj, P..., Rest...>;
};

template <class F, class L>
struct invoke_list {
    static constexpr bool ok = false;
    using type = void;
};
template <class F, class... A>
    requires std::invocable<F&, A...>
struct invoke_list<F, type_list<A...>> {
    using type = std::invoke_result_t<F&, A...>;
    static constexpr bool ok = is_coroutine_v<type>;
};

/// Whether (and with which coroutine type) F can be called with prefix K and Args.
template <Prefix K, class F, class... Args>
using prefixed = invoke_list<F, typename arrange<std::is_member_function_pointer_v<F>,
                                                 typename prefix_list<K>::type, Args&&...>::type>;

/// The coroutine type a call returns: that of the first prefix combination that works.
template <class F, class... Args>
struct coroutine_call_result {
    using type = std::conditional_t<
        prefixed<Prefix::none, F, Args...>::ok, typename prefixed<Prefix::none, F, Args...>::type,
        std::conditional_t<
            prefixed<Prefix::status, F, Args...>::ok,
            typename prefixed<Prefix::status, F, Args...>::type,
            std::conditional_t<prefixed<Prefix::last, F, Args...>::ok,
                               typename prefixed<Prefix::last, F, Args...>::type,
                               typename prefixed<Prefix::status_last, F, Args...>::type>>>;
};

/// The wrapper of F can be called with Args: F accepts them (with some combination of the
/// prefix arguments) and returns a kaa::Coroutine<T>.
template <class F, class... Args>
concept coroutine_callable_with = prefixed<Prefix::none, F, Args...>::ok ||
    prefixed<Prefix::status, F, Args...>::ok || prefixed<Prefix::last, F, Args...>::ok ||
    prefixed<Prefix::status_last, F, Args...>::ok;

template <class M>
struct member_class;
template <class M, class C>
struct member_class<M C::*> {
    using type = C;
};

template <class T>
struct is_reference_wrapper : std::false_type {};
template <class T>
struct is_reference_wrapper<std::reference_wrapper<T>> : std::true_type {};

/// The address of the object a member function is called on.
template <class F, class Obj>
const void* object_address(const Obj& obj) {
    using C = typename member_class<F>::type;
    using O = std::remove_cvref_t<Obj>;
    if constexpr (std::is_base_of_v<C, O>) {
        return static_cast<const void*>(std::addressof(obj));
    } else if constexpr (std::is_pointer_v<O>) {
        return static_cast<const void*>(obj);
    } else if constexpr (is_reference_wrapper<O>::value) {
        return static_cast<const void*>(std::addressof(obj.get()));
    } else {
        return static_cast<const void*>(std::to_address(obj));  // smart pointers
    }
}

/// Restores the thread's frame setup when the call ends (the callable may not consume it).
struct SetupGuard {
    SetupGuard(bool defer, Duration interval) {
        t_next_setup = NextCoroutineSetup{defer || interval > Duration::zero(), defer, interval};
    }
    SetupGuard(const SetupGuard&) = delete;
    SetupGuard& operator=(const SetupGuard&) = delete;
    ~SetupGuard() { t_next_setup = NextCoroutineSetup{}; }
};

}  // namespace detail

/// The callable returned by kaa::coroutine(). Copies share the callable and the policy state.
template <class F>
class CoroutineFunction {
public:
    /// Wraps `f` with `opts`.
    CoroutineFunction(CoroutineOptions opts, F f)
        : opts_(std::make_shared<const CoroutineOptions>(std::move(opts))),
          fn_(std::make_shared<F>(std::move(f))) {}

    /// Calls the wrapped callable under the configured policy and returns its coroutine (which
    /// ran eagerly up to its first suspension). Throws what the first step throws, and
    /// kaa::TypeError if the callable does not accept the prefix arguments the options pass.
    template <class... Args>
        requires detail::coroutine_callable_with<F, Args...>
    auto operator()(Args&&... args) const ->
        typename detail::coroutine_call_result<F, Args...>::type {
        using C = typename detail::coroutine_call_result<F, Args...>::type;
        using T = typename C::value_type;
        const CoroutineOptions& o = *opts_;

        detail::PolicyKey key;
        std::shared_ptr<detail::PolicyState> st;
        if (o.policy != Policy::none) {
            key = policy_key(args...);
            st = detail::policy_state(key);
        }
        if (st && o.policy == Policy::singleton && !st->calls.empty()) {
            return detail::Access::make<C>(
                detail::Access::from_base<InProgress<T>>(st->calls.back().ip),
                detail::adopt_coroutine);
        }
        const bool queue = st && o.policy == Policy::synchronized && !st->calls.empty();
        std::shared_ptr<InProgressStatus> status;
        if (o.progress) status = std::make_shared<InProgressStatus>();
        InProgressBase last;
        if (st && o.policy == Policy::pass_last && !st->calls.empty()) {
            last = st->calls.back().ip;
        }

        C c = [&] {
            detail::SetupGuard setup(queue,
                                     std::chrono::duration_cast<detail::Duration>(o.interval));
            const bool pass_last = o.policy == Policy::pass_last;
            if (o.progress && pass_last) {
                return invoke<detail::Prefix::status_last, C>(status.get(), &last,
                                                              std::forward<Args>(args)...);
            } else if (o.progress) {
                return invoke<detail::Prefix::status, C>(status.get(), &last,
                                                         std::forward<Args>(args)...);
            } else if (pass_last) {
                return invoke<detail::Prefix::last, C>(status.get(), &last,
                                                       std::forward<Args>(args)...);
            }
            return invoke<detail::Prefix::none, C>(status.get(), &last,
                                                   std::forward<Args>(args)...);
        }();

        detail::Access::keep_alive(c, fn_);
        if (status) c.set_progress(status);
        if (st && !c.finished()) {
            detail::policy_state_attach(key, st);
            st->calls.push_back({c, &detail::Access::coroutine_base(c)});
            watch_end(st, key, c);
            if (queue) detail::chain_synchronized(st, c);
        }
        return c;
    }

    /// The options given to kaa::coroutine().
    const CoroutineOptions& options() const { return *opts_; }

private:
    template <class... Args>
    detail::PolicyKey policy_key(const Args&... args) const {
        detail::PolicyKey key;
        key.group = opts_->group;
        if constexpr (std::is_member_function_pointer_v<F>) {
            key.object = object_of(args...);
        }
        // Without a group the scope is this wrapper (and its copies); with one, on an object,
        // every wrapper of that object using the group shares it. Plain callables keep their
        // groups per wrapper, as kaa keeps them on the function.
        if (key.group.empty() || !key.object) key.wrapper = fn_.get();
        return key;
    }
    template <class First, class... Rest>
    static const void* object_of(const First& first, const Rest&...) {
        return detail::object_address<F>(first);
    }

    template <detail::Prefix K, class C, class... Args>
    C invoke(InProgressStatus* status, InProgressBase* last, Args&&... args) const {
        if constexpr (!detail::prefixed<K, F, Args...>::ok) {
            throw TypeError(
                "kaa::coroutine: the callable does not accept the arguments the options pass "
                "(progress: InProgressStatus& first; POLICY_PASS_LAST: InProgressBase last)");
        } else {
            static_assert(std::is_same_v<typename detail::prefixed<K, F, Args...>::type, C>,
                          "kaa::coroutine: the callable returns different coroutine types "
                          "depending on the prefix arguments");
            if constexpr (std::is_member_function_pointer_v<F>) {
                return invoke_member<K>(status, last, std::forward<Args>(args)...);
            } else {
                return invoke_plain<K>(status, last, std::forward<Args>(args)...);
            }
        }
    }
    template <detail::Prefix K, class... Args>
    decltype(auto) invoke_plain(InProgressStatus* status, InProgressBase* last,
                                Args&&... args) const {
        if constexpr (K == detail::Prefix::none) {
            return std::invoke(*fn_, std::forward<Args>(args)...);
        } else if constexpr (K == detail::Prefix::status) {
            return std::invoke(*fn_, *status, std::forward<Args>(args)...);
        } else if constexpr (K == detail::Prefix::last) {
            return std::invoke(*fn_, *last, std::forward<Args>(args)...);
        } else {
            return std::invoke(*fn_, *status, *last, std::forward<Args>(args)...);
        }
    }
    // GCC 12 false positive (-O2 and up): calling a member function pointer compiles to the
    // Itanium dispatch whose virtual branch loads a vtable pointer from the object; inlined into
    // a caller whose object is smaller than a pointer (e.g. a local `struct { int n; }`), GCC
    // warns "array subscript 'int (**)(...)[0]' is partly outside array bounds" about that load,
    // although for a class without virtual functions the branch is never taken. Calling
    // `(obj.*pm)(...)` directly warns the same, so the warning is silenced here, where user code
    // reaches it too (examples/member_progress.cpp). The same false positive, reported for
    // GCC 16: https://gcc.gnu.org/bugzilla/show_bug.cgi?id=125285
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif
    template <detail::Prefix K, class Obj, class... Args>
    decltype(auto) invoke_member(InProgressStatus* status, InProgressBase* last, Obj&& obj,
                                 Args&&... args) const {
        if constexpr (K == detail::Prefix::none) {
            return std::invoke(*fn_, std::forward<Obj>(obj), std::forward<Args>(args)...);
        } else if constexpr (K == detail::Prefix::status) {
            return std::invoke(*fn_, std::forward<Obj>(obj), *status, std::forward<Args>(args)...);
        } else if constexpr (K == detail::Prefix::last) {
            return std::invoke(*fn_, std::forward<Obj>(obj), *last, std::forward<Args>(args)...);
        } else {
            return std::invoke(*fn_, std::forward<Obj>(obj), *status, *last,
                               std::forward<Args>(args)...);
        }
    }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

    // On the end of a recorded call: forget it (the first listener of the call, so a queued
    // successor chained to it finds it gone). An abort counts as handled, as in kaa.
    template <class C>
    static void watch_end(std::shared_ptr<detail::PolicyState> st, const detail::PolicyKey& key,
                          C& c) {
        InProgressBase me = c;
        auto done = [st, key, me]() {
            auto& calls = st->calls;
            auto it = std::find_if(calls.begin(), calls.end(),
                                   [&](const detail::PolicyState::Entry& e) { return e.ip == me; });
            if (it == calls.end()) return;
            calls.erase(it);
            if (calls.empty()) detail::policy_state_release(key, st.get());
        };
        c.connect_both([done](const auto&...) { done(); },
                       [done](std::exception_ptr e) {
                           done();
                           return !detail::holds_abort(e);
                       });
    }

    std::shared_ptr<const CoroutineOptions> opts_;
    std::shared_ptr<F> fn_;
};

/// kaa's `@coroutine` decorator: wraps `f`, a callable returning a kaa::Coroutine<T>, with
/// `opts` (interval, policy, progress, group). See the file comment.
template <class F>
CoroutineFunction<F> coroutine(CoroutineOptions opts, F f) {
    static_assert(detail::may_return_coroutine<F>,
                  "kaa::coroutine(): the callable must return kaa::Coroutine<T> (kaa raises "
                  "TypeError: '@coroutine decorated function is not a generator')");
    return CoroutineFunction<F>(std::move(opts), std::move(f));
}

/// kaa::coroutine() with default options (no interval, no policy, no progress).
template <class F>
CoroutineFunction<F> coroutine(F f) {
    return coroutine(CoroutineOptions{}, std::move(f));
}

}  // namespace kaa

#pragma GCC visibility pop
