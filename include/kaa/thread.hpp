#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// Threads: kaa::threaded, ThreadPool, ThreadInProgress, MAINTHREAD, MainThreadCallable and
// kaa::synchronized (docs/semantics.md [thread]).
//
// Where blocking is unavoidable (a blocking library call, scaling a very large image), run the
// work on another thread and get an InProgress back, exactly as from a coroutine:
//
//   auto scale = kaa::threaded({.pool = "images"}, [](Image img, double f) { return img.scaled(f); });
//   kaa::Coroutine<> show(Image img) {
//       Image small = co_await scale(std::move(img), 0.25);  // the loop keeps running meanwhile
//       display(small);
//   }
//
// Forms (ThreadOptions::pool):
//   default (no pool)   a new thread per call (ThreadCallable)
//   "name" / a pool     a ThreadPool, in order of ThreadOptions::priority (ThreadPoolCallable);
//                       an unknown name registers a new pool of size 1 on first use
//   kaa::MAINTHREAD     the loop thread (MainThreadCallable): a call on the loop thread runs at
//                       once and returns a finished InProgress; a call from another thread is
//                       queued to the loop and returns an unfinished one
// kaa::threaded_blocking(options, f) is kaa's async=False: each call returns the value (or
// throws the exception) instead of an InProgress; on the loop thread it keeps the loop running
// while it waits (ip.wait()), elsewhere it blocks on a condition variable — which needs the
// loop to be running on its own thread.
//
// Arguments are copied (decayed) into the job, like std::thread, and passed as rvalues: use a
// pointer or std::ref to pass an object by reference. The callable is called as a const
// object, possibly on several threads at once. Prefix arguments, in this order, when wanted:
//   std::stop_token      if the callable accepts one first (detected, as std::jthread does):
//                        it reports an abort of a running call and the loop's shutdown
//   InProgressStatus&    when ThreadOptions::progress is set: a fresh status per call
//                        (docs/semantics.md [thread.progress.1]), also reachable as ip.progress()
//
// Results: every call returns a ThreadInProgress<T> (an InProgress<T>, abortable, awaitable
// from coroutines). Its listeners and awaiting coroutines always run on the loop thread. A
// callable's exception fails it; nobody consuming that failure reports it as usual.
//
// Abort (loop thread): a queued call never runs and its InProgress fails at once; a running
// call's InProgress fails at once too, the wrapper's abort_signal() is emitted, and — unless a
// handler of that signal returned false — the call's std::stop_token is signalled. C++ has no
// asynchronous exceptions: a call that ignores its stop_token runs to its end, and its late
// result is discarded. A coroutine awaiting a call and aborted aborts the call (kaa's cascade:
// it is abortable; nothing else may be listening). ip.connect_abort() gives a per-call hook.
//
// Loop shutdown (after main::run(), see kaa::main): every pool fails its queued calls with
// InProgressAborted, signals the stop_token of its running calls and waits for them; per-call
// threads are asked to stop (and waited for if ThreadOptions::wait). Calls that finished meanwhile
// are delivered before the suspended coroutines are unwound. Hazard: a call that blocks on the
// loop at that point (a blocking MAINTHREAD call, a wait()) deadlocks the shutdown.
//
// Cost: one allocation per call (the job is the InProgress state, served from a per-thread
// free list); a pool is a mutex + condition variable priority queue whose idle threads poll
// briefly before they sleep. While one polls, a call is pushed onto a lock-free stack and pays
// neither the mutex nor a wake-up (a worker that takes a call with more queued wakes the next);
// completions travel back through a lock-free stack drained by one posted task per batch.
//
// Threads: calling a wrapper is thread-safe. ThreadPool's members are thread-safe.
// ThreadInProgress is an InProgress (main-loop thread only, except as stated there); abort()
// from another thread is posted to the loop thread, like any InProgress's; abort_signal() is
// main-loop thread only. kaa::synchronized is thread-safe.
//
// Headers: ThreadPool and the pool registry are declared in kaa/thread_pool.hpp (a ThreadTarget
// may name a pool), kaa::synchronized in kaa/synchronized.hpp; this header includes both.

#include <kaa/detail/thread_impl.hpp>
#include <kaa/errors.hpp>
#include <kaa/inprogress.hpp>
#include <kaa/signal.hpp>
#include <kaa/status.hpp>
#include <kaa/synchronized.hpp>  // compatibility: kaa::synchronized used to be declared here
#include <kaa/thread_pool.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace kaa {

// ---------------------------------------------------------------- the main thread

/// The type of kaa::MAINTHREAD.
struct MainThread_t {
    explicit constexpr MainThread_t() = default;
};
/// `threaded({.pool = kaa::MAINTHREAD}, f)`: calls run on the main-loop thread.
inline constexpr MainThread_t MAINTHREAD{};

/// Whether the calling thread is the main-loop thread (the thread that runs, or last ran, the
/// loop; before any loop ran, the thread that first used kaa).
inline bool is_mainthread() { return detail::on_loop_thread(); }

// ---------------------------------------------------------------- options

/// Where the calls of a threaded function run; converts from nothing/nullptr (a new thread per
/// call), kaa::MAINTHREAD, a pool name, or a std::shared_ptr<ThreadPool>.
class ThreadTarget {
public:
    /// Where the calls run.
    enum class Kind : std::uint8_t {
        new_thread,   ///< one new thread per call
        main_thread,  ///< the main-loop thread
        pool,         ///< a ThreadPool, given by object or by name
    };
    /// A new thread per call.
    ThreadTarget() noexcept = default;
    /// A new thread per call (kaa's pool=None).
    ThreadTarget(std::nullptr_t) noexcept {}  // NOLINT(google-explicit-constructor)
    /// The main-loop thread.
    ThreadTarget(MainThread_t) noexcept : kind_(Kind::main_thread) {}  // NOLINT
    /// The pool registered under `name` (registered, with size 1, at the first call if absent).
    ThreadTarget(std::string name) : kind_(Kind::pool), name_(std::move(name)) {}  // NOLINT
    /// As ThreadTarget(std::string).
    ThreadTarget(const char* name) : ThreadTarget(std::string(name)) {}  // NOLINT
    /// This pool (null: a new thread per call).
    ThreadTarget(std::shared_ptr<ThreadPool> pool)  // NOLINT(google-explicit-constructor)
        : kind_(pool ? Kind::pool : Kind::new_thread), pool_(std::move(pool)) {}

    /// Where the calls run.
    Kind kind() const noexcept { return kind_; }
    /// The pool name (pool given by name), else empty.
    const std::string& name() const noexcept { return name_; }
    /// The pool object (pool given as an object), else null.
    const std::shared_ptr<ThreadPool>& pool() const noexcept { return pool_; }

private:
    Kind kind_ = Kind::new_thread;
    std::string name_;
    std::shared_ptr<ThreadPool> pool_;
};

/// Options of kaa::threaded() and kaa::threaded_blocking() (kaa's `@threaded` arguments).
struct ThreadOptions {
    /// Where calls run (see ThreadTarget); default: a new thread per call.
    ThreadTarget pool{};
    /// Pool queue order: higher first, FIFO among equal priorities. Pools only.
    int priority = 0;
    /// Pass a fresh InProgressStatus& to each call (after the std::stop_token, if taken); it is
    /// also ip.progress(). The worker may update it while the loop reads it; its listeners run
    /// on the loop thread (see kaa/status.hpp).
    bool progress = false;
    /// New-thread form: loop shutdown waits for calls still running (kaa's wait=True); without
    /// it they are only asked to stop and may outlive the loop.
    bool wait = false;
};

// ---------------------------------------------------------------- internals

namespace detail {

/// How a wrapper dispatches its calls; the pool of a named target is resolved at the first call.
struct ThreadDispatch {
    ThreadTarget target;
    int priority = 0;
    bool wait = false;
    std::once_flag resolve_once;
    std::shared_ptr<ThreadPool> pool;  ///< resolved pool (pool targets)
};

/// Starts `job` as `d` says, taking over one reference to its state: a pool queue, a new
/// thread, or the loop thread (at once if called there). A SystemExit thrown by a MAINTHREAD
/// call run at once is rethrown.
void dispatch_job(ThreadJob* job, ThreadDispatch& d);

/// The result of calling F with the prefix arguments (stop token and/or status) and A...:
/// found_ is false if it cannot be called that way.
template <class F, bool WithStatus, class... A>
constexpr auto job_probe() {
    if constexpr (WithStatus) {
        if constexpr (std::is_invocable_v<const F&, std::stop_token, InProgressStatus&, A...>) {
            return std::type_identity<
                std::invoke_result_t<const F&, std::stop_token, InProgressStatus&, A...>>{};
        } else if constexpr (std::is_invocable_v<const F&, InProgressStatus&, A...>) {
            return std::type_identity<std::invoke_result_t<const F&, InProgressStatus&, A...>>{};
        } else {
            return std::false_type{};
        }
    } else {
        if constexpr (std::is_invocable_v<const F&, std::stop_token, A...>) {
            return std::type_identity<std::invoke_result_t<const F&, std::stop_token, A...>>{};
        } else if constexpr (std::is_invocable_v<const F&, A...>) {
            return std::type_identity<std::invoke_result_t<const F&, A...>>{};
        } else {
            return std::false_type{};
        }
    }
}

/// What a call of F with decayed arguments A... looks like.
template <class F, class... A>
struct JobTraits {
    using with_probe = decltype(job_probe<F, true, A...>());
    using without_probe = decltype(job_probe<F, false, A...>());
    /// Callable with an InProgressStatus& prefix (progress = true).
    static constexpr bool with_status = !std::is_same_v<with_probe, std::false_type>;
    /// Callable without it (progress = false).
    static constexpr bool without_status = !std::is_same_v<without_probe, std::false_type>;
    /// Takes a std::stop_token first.
    static constexpr bool stop_with =
        std::is_invocable_v<const F&, std::stop_token, InProgressStatus&, A...>;
    static constexpr bool stop_without = std::is_invocable_v<const F&, std::stop_token, A...>;

    template <class P>
    struct unwrap {
        using type = void;
    };
    template <class R>
    struct unwrap<std::type_identity<R>> {
        using type = R;
    };
    /// The callable's return type as it is (maybe a reference).
    using result_type =
        typename unwrap<std::conditional_t<without_status, without_probe, with_probe>>::type;
    static_assert(
        !(with_status && without_status) ||
            std::is_same_v<typename unwrap<with_probe>::type, typename unwrap<without_probe>::type>,
        "kaa::threaded: the callable returns different types with and without the "
        "InProgressStatus& argument");
    /// What the InProgress holds.
    using value_type = std::remove_cvref_t<result_type>;
};

/// The state a wrapper shares with its copies and its running calls.
template <class F>
struct ThreadShared {
    ThreadShared(F f, const ThreadOptions& opts) : fn(std::move(f)), progress(opts.progress) {
        dispatch.target = opts.pool;
        dispatch.priority = opts.priority;
        dispatch.wait = opts.wait;
    }

    F fn;
    bool progress;
    ThreadDispatch dispatch;
    /// Emitted (loop thread) when a running call is aborted; see ThreadFunction::abort_signal().
    Signal<const InProgressAborted&> abort;

    template <bool WithStatus, class... A>
    static decltype(auto) call(const F& f, std::stop_source& stop, InProgressStatus* status,
                               A&&... a) {
        if constexpr (WithStatus) {
            if constexpr (std::is_invocable_v<const F&, std::stop_token, InProgressStatus&, A...>) {
                return std::invoke(f, stop.get_token(), *status, std::forward<A>(a)...);
            } else {
                return std::invoke(f, *status, std::forward<A>(a)...);
            }
        } else {
            if constexpr (std::is_invocable_v<const F&, std::stop_token, A...>) {
                return std::invoke(f, stop.get_token(), std::forward<A>(a)...);
            } else {
                return std::invoke(f, std::forward<A>(a)...);
            }
        }
    }

    /// Calls f with the prefix arguments the job was created with (ThreadTask::execute()).
    template <class... A>
    static typename JobTraits<F, A...>::result_type invoke(const F& f, std::stop_source& stop,
                                                           InProgressStatus* status, A&&... a) {
        using Tr = JobTraits<F, A...>;
        if constexpr (Tr::with_status && Tr::without_status) {
            if (status) return call<true>(f, stop, status, std::forward<A>(a)...);
            return call<false>(f, stop, status, std::forward<A>(a)...);
        } else if constexpr (Tr::with_status) {
            return call<true>(f, stop, status, std::forward<A>(a)...);
        } else {
            return call<false>(f, stop, status, std::forward<A>(a)...);
        }
    }
};

}  // namespace detail

// ---------------------------------------------------------------- ThreadInProgress

/// The InProgress of a threaded call: an InProgress<T> that is abortable (see the file comment
/// for what abort() does to the call) and finishes on the loop thread with the call's outcome.
/// Do not finish() it yourself while the call may still run (its result slot is the call's).
template <class T>
class ThreadInProgress : public InProgress<T> {
public:
    /// True until the callable has returned: while the call is queued or running. False once
    /// it returned, and for a call aborted before it ran.
    bool active() const {
        detail::JobPhase p = job().job_phase();
        return p == detail::JobPhase::queued || p == detail::JobPhase::running;
    }
    /// Whether the call's std::stop_token was signalled (always false if the callable does not
    /// take one).
    bool stop_requested() const { return job().stop_.stop_requested(); }

private:
    friend struct detail::Access;

    /// Wraps a new job's state, taking over its initial reference.
    explicit ThreadInProgress(detail::ThreadState<T>* s) : InProgress<T>(nullptr) { this->s_ = s; }

    detail::ThreadState<T>& job() const {
        return static_cast<detail::ThreadState<T>&>(this->state());
    }
};

// ---------------------------------------------------------------- ThreadFunction

/// The callable returned by kaa::threaded() (Blocking = false) and kaa::threaded_blocking()
/// (Blocking = true). Copies share the callable, the dispatch target and abort_signal().
template <class F, bool Blocking = false>
class ThreadFunction {
    using Shared = detail::ThreadShared<F>;

public:
    /// Runs `f` as `opts` say; kaa::threaded() and threaded_blocking() build it.
    ThreadFunction(ThreadOptions opts, F f)
        : shared_(std::make_shared<Shared>(std::move(f), opts)) {}

    /// Runs f(prefix..., args...) as ThreadOptions say. Returns a ThreadInProgress<T> (T: f's
    /// decayed return type), or, blocking, the value itself (rethrowing f's exception). Throws
    /// kaa::TypeError if `progress` is set and f does not take an InProgressStatus& (or the
    /// reverse).
    template <class... Args>
    auto operator()(Args&&... args) const {
        using Tr = detail::JobTraits<F, std::decay_t<Args>...>;
        static_assert(Tr::with_status || Tr::without_status,
                      "kaa::threaded: the callable cannot be called with these arguments "
                      "(optionally after a std::stop_token and an InProgressStatus&)");
        using T = typename Tr::value_type;
        static_assert(!std::is_base_of_v<InProgressBase, T>,
                      "kaa::threaded: coroutines and InProgress objects cannot be run in threads");
        using Task = detail::ThreadTask<T, Shared, std::decay_t<Args>...>;

        const bool progress = shared_->progress;
        if (progress && !Tr::with_status) {
            throw TypeError("kaa::threaded: progress is set but the callable does not take an "
                            "InProgressStatus& argument");
        }
        if (!progress && !Tr::without_status) {
            throw TypeError("kaa::threaded: the callable takes an InProgressStatus& argument "
                            "but progress is not set");
        }
        auto* task = new Task(shared_, std::forward<Args>(args)...);
        auto ip = detail::Access::make<ThreadInProgress<T>>(task);
        if (progress ? Tr::stop_with : Tr::stop_without) task->stop_ = std::stop_source();
        if (progress) {
            auto status = std::make_shared<InProgressStatus>();
            task->job_status_ = status.get();
            ip.set_progress(std::move(status));
        }
        task->abort_signal_ = &shared_->abort;
        task->add_ref();  // the executor's reference
        detail::dispatch_job(task, shared_->dispatch);
        if constexpr (Blocking) {
            return ip.wait();
        } else {
            return ip;
        }
    }

    /// Emitted on the loop thread when a running call of this wrapper is aborted, with the
    /// InProgressAborted (its inprogress() is the aborted call). A handler returning false
    /// keeps that call's stop_token unsignalled. Not emitted for calls aborted while queued.
    /// Main-loop thread only.
    Signal<const InProgressAborted&>& abort_signal() const { return shared_->abort; }

    /// The dispatch target.
    const ThreadTarget& target() const { return shared_->dispatch.target; }
    /// The pool priority.
    int priority() const { return shared_->dispatch.priority; }

private:
    std::shared_ptr<Shared> shared_;
};

/// kaa's `@threaded`: wraps `f` so that each call runs it off the loop thread (or, with
/// MAINTHREAD, on it) and returns a ThreadInProgress; see the file comment.
template <class F>
ThreadFunction<F> threaded(ThreadOptions opts, F f) {
    return ThreadFunction<F>(std::move(opts), std::move(f));
}
/// threaded() with default options: a new thread per call.
template <class F>
ThreadFunction<F> threaded(F f) {
    return ThreadFunction<F>(ThreadOptions{}, std::move(f));
}

/// kaa's `@threaded(async=False)`: each call waits for its result and returns it (or throws).
/// On the loop thread the loop keeps running while it waits.
template <class F>
ThreadFunction<F, true> threaded_blocking(ThreadOptions opts, F f) {
    return ThreadFunction<F, true>(std::move(opts), std::move(f));
}
/// threaded_blocking() with default options: a new thread per call.
template <class F>
ThreadFunction<F, true> threaded_blocking(F f) {
    return ThreadFunction<F, true>(ThreadOptions{}, std::move(f));
}

/// kaa's ThreadCallable: each call runs `f` on a new thread. `wait`: loop shutdown waits for
/// running calls.
template <class F>
class ThreadCallable : public ThreadFunction<F> {
public:
    /// Runs `f` on a new thread per call.
    explicit ThreadCallable(F f, bool wait = false)
        : ThreadFunction<F>(ThreadOptions{.wait = wait}, std::move(f)) {}
};

/// kaa's ThreadPoolCallable: each call runs `f` in `pool` (an object or a name) with `priority`.
template <class F>
class ThreadPoolCallable : public ThreadFunction<F> {
public:
    /// Runs `f` in `pool` with `priority`.
    ThreadPoolCallable(ThreadTarget pool, int priority, F f)
        : ThreadFunction<F>(ThreadOptions{.pool = std::move(pool), .priority = priority},
                            std::move(f)) {}
    /// Runs `f` in `pool` with priority 0.
    ThreadPoolCallable(ThreadTarget pool, F f)
        : ThreadPoolCallable(std::move(pool), 0, std::move(f)) {}
};

/// kaa's MainThreadCallable: each call runs `f` on the main-loop thread — at once when called
/// there (the returned InProgress is finished), else queued to the loop (it is not).
template <class F>
class MainThreadCallable : public ThreadFunction<F> {
public:
    /// Runs `f` on the main-loop thread.
    explicit MainThreadCallable(F f)
        : ThreadFunction<F>(ThreadOptions{.pool = MAINTHREAD}, std::move(f)) {}
};

}  // namespace kaa

#pragma GCC visibility pop
