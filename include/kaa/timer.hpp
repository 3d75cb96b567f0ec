#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// Timers: Timer (repeating), OneShotTimer, WeakTimer, WeakOneShotTimer, OneShotAtTimer, AtTimer,
// and `timed`, which turns a function into one that runs on a timer.
//
// A timer object is a handle to shared state, as in kaa: copies refer to the same timer, and a
// started timer is kept alive by the loop until it stops, so `OneShotTimer(f).start(1s);` works
// on a temporary. Stop it explicitly, or return false from its callback, to end it; a Weak*
// timer ends by itself when its owner (a std::weak_ptr) dies.
//
// Callbacks run on the main-loop thread; one returning exactly `false` stops a repeating timer
// (and cancels a restart made inside a one-shot's callback); void or any other value keeps it.
// An exception from a callback goes to main::signals().exception and stops the timer (unless
// the callback restarted it first).
//
// Cost: arming and cancelling are O(log n) in a 4-ary heap; each timer is one allocation of
// 64 bytes plus its callback's captures, and a 16-byte heap slot while armed.
//
// Threads: start() and stop() from another thread are posted to the loop thread; the rest is
// main-thread only (in a debug build, active(), interval(), OneShotAtTimer::start()/stop() and a
// timed() call on another thread fail an assertion naming the call, [core.thread.4]).

#include <kaa/detail/callback.hpp>
#include <kaa/detail/loop.hpp>

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace kaa {

namespace detail {

/// The shared state of a timer: an intrusively counted heap object holding the callback inline
/// (one allocation per timer, no std::function). It holds a reference to itself while armed.
/// Handles may be copied and dropped on any thread; everything else is loop thread only.
class TimerCore : public TimerNode {
public:
    TimerCore();
    TimerCore(const TimerCore&) = delete;
    TimerCore& operator=(const TimerCore&) = delete;
    virtual ~TimerCore() = default;

    /// (Re)starts with `iv`; with `now`, calls the callback first (false: stays stopped).
    void start(Duration iv, bool now);
    /// Disarms; may release the last reference (nothing may touch `this` afterwards).
    void stop() noexcept;
    /// Armed and, for weak timers, the owner alive.
    bool active() const { return armed() && alive(); }
    /// The interval of the last start(), while started.
    std::optional<Duration> interval() const {
        return has_interval_ ? std::optional<Duration>(interval_) : std::nullopt;
    }
    /// Makes it fire once per start().
    void set_oneshot() noexcept { oneshot_ = true; }
    /// The loop's call of an armed timer whose deadline passed (its TimerNode::fire).
    void fire_now();

    /// Takes a reference (any thread).
    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    /// Drops a reference; the last one deletes the core (any thread).
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

protected:
    /// Calls the user callback; false = stop.
    virtual bool call() = 0;
    /// Weak timers: whether the owner still lives.
    virtual bool alive() const { return true; }

private:
    void arm_at(Clock::time_point due);
    void on_fire();

    // Packed behind TimerNode's 32-bit heap index: 64 bytes with the vtable pointer.
    std::atomic<std::uint32_t> refs_{1};
    std::uint32_t generation_ = 0;  ///< bumped by start()/stop(): a restart inside a callback
    Duration interval_{};
    bool has_interval_ = false;
    bool oneshot_ = false;
    bool self_held_ = false;  ///< the armed timer's reference to itself is taken
};

/// A TimerCore calling `C` (a loop_callable()).
template <class C>
class TimerCoreFor final : public TimerCore {
public:
    explicit TimerCoreFor(C c) : callable_(std::move(c)) {}

protected:
    bool call() override { return callable_(); }

private:
    C callable_;
};

/// A TimerCore whose callable is bound to an owner held weakly (a weak_loop_callable()).
template <class O, class C>
class WeakTimerCore final : public TimerCore {
public:
    WeakTimerCore(std::weak_ptr<O> owner, C c)
        : owner_(std::move(owner)), callable_(std::move(c)) {}

protected:
    bool call() override { return callable_(); }
    bool alive() const override { return !owner_.expired(); }

private:
    std::weak_ptr<O> owner_;
    C callable_;
};

/// A counted reference to a TimerCore (the state behind every Timer handle).
class TimerRef {
public:
    /// Adopts the reference `core` was created with.
    explicit TimerRef(TimerCore* core) noexcept : core_(core) {}
    TimerRef(const TimerRef& o) noexcept : core_(o.core_) { core_->add_ref(); }
    TimerRef(TimerRef&& o) noexcept : core_(std::exchange(o.core_, nullptr)) {}
    TimerRef& operator=(TimerRef o) noexcept {
        std::swap(core_, o.core_);
        return *this;
    }
    ~TimerRef() {
        if (core_) core_->release();
    }
    TimerCore* operator->() const noexcept { return core_; }
    TimerCore* get() const noexcept { return core_; }

private:
    TimerCore* core_;  // null only once moved from
};

}  // namespace detail

/// A repeating timer: calls its callback every `interval` until stopped or the callback
/// returns false. Missed periods are skipped, not replayed. Interval 0 fires once per step.
class Timer {
public:
    /// A stopped timer calling `f(bound...)`.
    template <class F, class... Bound>
        requires(!std::derived_from<std::decay_t<F>, Timer>)
    explicit Timer(F f, Bound... bound)
        : core_(make_core(detail::loop_callable(std::move(f), std::move(bound)...))) {}

    /// Starts (or restarts, with the new interval) the timer: it first fires `interval` from
    /// now, never inside this call and never in a timer phase already under way (interval 0:
    /// the next loop iteration). With `now`, the callback runs once synchronously first; if it
    /// returns false the timer stays stopped, and what it throws propagates to the caller.
    /// Throws std::invalid_argument for a negative interval. From another thread it is posted
    /// to the loop thread.
    void start(std::chrono::nanoseconds interval, bool now = false);
    /// Stops the timer; idempotent, also from inside its own callback. From another thread it
    /// is posted.
    void stop();
    /// Whether it is scheduled (and, for weak timers, its owner alive). Loop thread only.
    bool active() const {
        detail::assert_loop_thread("Timer::active()");
        return core_->active();
    }
    /// The interval given to the last start(), or nullopt while stopped. Loop thread only.
    std::optional<std::chrono::nanoseconds> interval() const;

    /// Same timer.
    friend bool operator==(const Timer& a, const Timer& b) {
        return a.core_.get() == b.core_.get();
    }

protected:
    /// @cond INTERNAL
    explicit Timer(detail::TimerRef core) noexcept : core_(std::move(core)) {}
    template <class C>
    static detail::TimerRef make_core(C callable) {
        return detail::TimerRef(new detail::TimerCoreFor<C>(std::move(callable)));
    }
    detail::TimerRef core_;
    /// @endcond
};

/// A timer that fires once per start(). It is stopped before its callback runs, so the
/// callback may start() it again.
class OneShotTimer : public Timer {
public:
    /// A stopped one-shot timer calling `f(bound...)`.
    template <class F, class... Bound>
        requires(!std::derived_from<std::decay_t<F>, Timer>)
    explicit OneShotTimer(F f, Bound... bound) : Timer(std::move(f), std::move(bound)...) {
        core_->set_oneshot();
    }
};

/// A repeating timer bound to an owner: while the owner lives it calls `f(bound...)` (or,
/// for a member function pointer, `(owner->*f)(bound...)`); once the owner died it never fires
/// again and becomes inactive.
class WeakTimer : public Timer {
public:
    /// A stopped timer calling `f(bound...)` or `(owner->*f)(bound...)` while `owner` lives.
    template <class O, class F, class... Bound>
    WeakTimer(std::weak_ptr<O> owner, F f, Bound... bound)
        : Timer(make_weak_core(owner, detail::weak_loop_callable(owner, std::move(f),
                                                                 std::move(bound)...))) {}

private:
    template <class O, class C>
    static detail::TimerRef make_weak_core(std::weak_ptr<O> owner, C callable) {
        return detail::TimerRef(
            new detail::WeakTimerCore<O, C>(std::move(owner), std::move(callable)));
    }
};

/// The one-shot form of WeakTimer.
class WeakOneShotTimer : public WeakTimer {
public:
    /// A stopped one-shot timer calling `f(bound...)` or `(owner->*f)(bound...)` if `owner`
    /// still lives when it fires.
    template <class O, class F, class... Bound>
    WeakOneShotTimer(std::weak_ptr<O> owner, F f, Bound... bound)
        : WeakTimer(std::move(owner), std::move(f), std::move(bound)...) {
        core_->set_oneshot();
    }
};

/// Fires once at the next wall-clock time (local time) matching the given hours, minutes and
/// seconds. Defaults: every hour, every minute, second 0.
class OneShotAtTimer {
public:
    /// A stopped timer calling `f(bound...)`.
    template <class F, class... Bound>
        requires(!std::derived_from<std::decay_t<F>, OneShotAtTimer>)
    explicit OneShotAtTimer(F f, Bound... bound)
        : OneShotAtTimer(detail::bind_loop_callback(std::move(f), std::move(bound)...), 0) {}

    /// Schedules the next matching time (after now, or after the last scheduled time if that is
    /// later); replaces a previous schedule. Each list is sorted and deduplicated; an empty list
    /// or a value out of range (hours 0–23, minutes and seconds 0–59) throws
    /// std::invalid_argument. Like Timer, a started At timer lives on without its handles until
    /// it stops. Loop thread only.
    void start(std::vector<int> hours = all_hours(), std::vector<int> minutes = all_minutes(),
               std::vector<int> seconds = {0});
    /// Cancels it; also from inside its own callback (an AtTimer then does not reschedule). Loop
    /// thread only.
    void stop();
    /// Whether a time is scheduled (false inside its own callback unless restarted there).
    bool active() const;
    /// The scheduled wall-clock time, or nullopt when not scheduled.
    std::optional<std::chrono::system_clock::time_point> next() const;
    /// The hours given to the last start(), sorted; empty before.
    const std::vector<int>& hours() const { return state_->hours; }
    /// The minutes given to the last start(), sorted; empty before.
    const std::vector<int>& minutes() const { return state_->minutes; }
    /// The seconds given to the last start(), sorted; empty before.
    const std::vector<int>& seconds() const { return state_->seconds; }

    /// 0, 1, …, 23.
    static std::vector<int> all_hours();
    /// 0, 1, …, 59.
    static std::vector<int> all_minutes();
    /// The first local time strictly after `after` whose hour, minute and second are in the
    /// (sorted) lists: today if one is left, else tomorrow. Pure arithmetic (mktime), exposed for
    /// tests. Throws std::logic_error if nothing matches within two days (empty lists).
    static std::chrono::system_clock::time_point next_match(
        std::chrono::system_clock::time_point after, const std::vector<int>& hours,
        const std::vector<int>& minutes, const std::vector<int>& seconds);

protected:
    /// @cond INTERNAL
    struct State {
        std::function<bool()> callback;
        std::vector<int> hours, minutes, seconds;
        std::optional<std::chrono::system_clock::time_point> next;  ///< scheduled, if armed
        std::optional<std::chrono::system_clock::time_point> last;  ///< last scheduled time
        bool repeat = false;                                        ///< AtTimer
        std::uint64_t generation = 0;  ///< bumped by start()/stop(): a callback restarted it
        /// While scheduled, its callback holds this State: the cycle keeps an At timer alive
        /// without handles, and is broken (timer reset) when it stops or does not reschedule.
        std::optional<OneShotTimer> timer;
    };
    OneShotAtTimer(std::function<bool()> callback, int);
    static void schedule(const std::shared_ptr<State>& state);
    static void fire(const std::shared_ptr<State>& state);
    std::shared_ptr<State> state_;
    /// @endcond
};

/// Like OneShotAtTimer, but reschedules after each call unless the callback returned false.
class AtTimer : public OneShotAtTimer {
public:
    /// A stopped timer calling `f(bound...)`.
    template <class F, class... Bound>
        requires(!std::derived_from<std::decay_t<F>, OneShotAtTimer>)
    explicit AtTimer(F f, Bound... bound) : OneShotAtTimer(std::move(f), std::move(bound)...) {
        state_->repeat = true;
    }
};

/// What `timed` does when called while its timer is active.
enum class TimedPolicy {
    many,    ///< start another independent timer
    once,    ///< ignore the call (it returns false)
    restart  ///< stop the running timer and start a new one with the new arguments
};

/// Which timer `timed` uses.
enum class TimedKind { repeating, oneshot };

/// The callable returned by timed(): each call starts a timer that calls `f(args...)` every
/// `interval` (until f returns false) — or once, with TimedKind::oneshot. Returns true if a
/// timer was started. For a member function pointer the first argument is the object pointer,
/// and the `once`/`restart` state is kept per object.
template <class F>
class Timed {
public:
    /// See timed().
    Timed(std::chrono::nanoseconds interval, F f, TimedPolicy policy, TimedKind kind)
        : interval_(interval), f_(std::make_shared<F>(std::move(f))), policy_(policy), kind_(kind),
          timers_(std::make_shared<std::map<const void*, Timer>>()) {}

    /// Starts a timer calling `f(args...)` (copies of the arguments), unless the policy is
    /// `once` and this function's (or this object's) timer is still active: then returns false
    /// and does nothing. With `restart`, stops the active timer first. Never calls f itself.
    /// Loop thread only.
    template <class... Args>
    bool operator()(Args... args) {
        detail::assert_loop_thread("timed()");
        const void* key = nullptr;
        if constexpr (std::is_member_function_pointer_v<F>) {
            key = static_cast<const void*>(&*std::get<0>(std::tie(args...)));
        }
        auto it = timers_->find(key);
        if (it != timers_->end()) {
            if (!it->second.active()) {
                timers_->erase(it);
            } else if (policy_ == TimedPolicy::once) {
                return false;
            } else if (policy_ == TimedPolicy::restart) {
                it->second.stop();
                timers_->erase(it);
            }
        }
        auto call = [f = f_, ... args = std::move(args)]() mutable {
            return detail::invoke_keeps_going(*f, args...);
        };
        Timer t = kind_ == TimedKind::oneshot ? static_cast<Timer>(OneShotTimer(std::move(call)))
                                              : Timer(std::move(call));
        t.start(interval_);
        if (policy_ != TimedPolicy::many) timers_->insert_or_assign(key, t);
        return true;
    }

private:
    std::chrono::nanoseconds interval_;
    std::shared_ptr<F> f_;
    TimedPolicy policy_;
    TimedKind kind_;
    std::shared_ptr<std::map<const void*, Timer>> timers_;
};

/// kaa's `@timed(interval, policy)` decorator: returns a callable that runs `f` on a timer
/// (see Timed). Example: `auto poll = kaa::timed(100ms, check_device, TimedPolicy::once);`
template <class F>
Timed<F> timed(std::chrono::nanoseconds interval, F f, TimedPolicy policy = TimedPolicy::many,
               TimedKind kind = TimedKind::repeating) {
    return Timed<F>(interval, std::move(f), policy, kind);
}

}  // namespace kaa

#pragma GCC visibility pop
