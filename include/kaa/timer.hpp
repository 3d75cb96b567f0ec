#pragma once
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
// An exception from a callback goes to main::signals().exception.
//
// Cost: arming and cancelling are O(log n) in a 4-ary heap; each timer is one allocation.
//
// Threads: start() and stop() from another thread are posted to the loop thread; the rest is
// main-thread only.

#include <kaa/detail/callback.hpp>
#include <kaa/detail/loop.hpp>

#include <chrono>
#include <concepts>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace kaa {

namespace detail {

/// The shared state of a timer; it holds itself (self_) while armed.
struct TimerCore : TimerNode, std::enable_shared_from_this<TimerCore> {
    std::function<bool()> callback;
    /// For weak timers: whether the owner is still alive.
    std::function<bool()> alive;
    std::optional<Duration> interval;
    bool oneshot = false;
    std::uint64_t generation = 0;  ///< bumped by start()/stop(); detects a restart in a callback
    std::shared_ptr<TimerCore> self;

    TimerCore();
    void start(Duration iv, bool now);
    void stop() noexcept;
    bool active() const;
    void arm_at(Clock::time_point due);
    void on_fire();
};

template <class F, class... Bound>
std::function<bool()> bind_timer_callback(F f, Bound... bound) {
    return [f = std::move(f), ... bound = std::move(bound)]() mutable {
        return invoke_keeps_going(f, bound...);
    };
}

template <class O, class F, class... Bound>
std::function<bool()> bind_weak_timer_callback(std::weak_ptr<O> owner, F f, Bound... bound) {
    return [owner = std::move(owner), f = std::move(f), ... bound = std::move(bound)]() mutable {
        auto strong = owner.lock();
        if (!strong) return false;
        if constexpr (std::is_member_function_pointer_v<F>) {
            return invoke_keeps_going(f, strong.get(), bound...);
        } else {
            return invoke_keeps_going(f, bound...);
        }
    };
}

}  // namespace detail

/// A repeating timer: calls its callback every `interval` until stopped or the callback
/// returns false. Missed periods are skipped, not replayed. Interval 0 fires once per step.
class Timer {
public:
    /// A stopped timer calling `f(bound...)`.
    template <class F, class... Bound>
        requires(!std::derived_from<std::decay_t<F>, Timer>)
    explicit Timer(F f, Bound... bound) : Timer() {
        core_->callback = detail::bind_timer_callback(std::move(f), std::move(bound)...);
    }

    /// Starts (or restarts, with the new interval) the timer; with `now`, the callback runs once
    /// synchronously before scheduling (unless that call returns false, which stops it).
    void start(std::chrono::nanoseconds interval, bool now = false);
    /// Stops the timer; idempotent.
    void stop();
    /// Whether it is scheduled (and, for weak timers, its owner alive).
    bool active() const { return core_->active(); }
    /// The interval given to the last start(), or nullopt while stopped.
    std::optional<std::chrono::nanoseconds> interval() const;

    /// Same timer.
    friend bool operator==(const Timer& a, const Timer& b) { return a.core_ == b.core_; }

protected:
    Timer() : core_(std::make_shared<detail::TimerCore>()) {}
    std::shared_ptr<detail::TimerCore> core_;
};

/// A timer that fires once per start(). It is stopped before its callback runs, so the
/// callback may start() it again.
class OneShotTimer : public Timer {
public:
    template <class F, class... Bound>
    explicit OneShotTimer(F f, Bound... bound) : Timer(std::move(f), std::move(bound)...) {
        core_->oneshot = true;
    }
};

/// A repeating timer bound to an owner: while the owner lives it calls `f(bound...)` (or,
/// for a member function pointer, `(owner->*f)(bound...)`); once the owner died it never fires
/// again and becomes inactive.
class WeakTimer : public Timer {
public:
    template <class O, class F, class... Bound>
    WeakTimer(std::weak_ptr<O> owner, F f, Bound... bound) : Timer() {
        core_->alive = [owner] { return !owner.expired(); };
        core_->callback =
            detail::bind_weak_timer_callback(std::move(owner), std::move(f), std::move(bound)...);
    }
};

/// The one-shot form of WeakTimer.
class WeakOneShotTimer : public WeakTimer {
public:
    template <class O, class F, class... Bound>
    WeakOneShotTimer(std::weak_ptr<O> owner, F f, Bound... bound)
        : WeakTimer(std::move(owner), std::move(f), std::move(bound)...) {
        core_->oneshot = true;
    }
};

/// Fires once at the next wall-clock time (local time) matching the given hours, minutes and
/// seconds. Defaults: every hour, every minute, second 0.
class OneShotAtTimer {
public:
    template <class F, class... Bound>
    explicit OneShotAtTimer(F f, Bound... bound)
        : OneShotAtTimer(detail::bind_timer_callback(std::move(f), std::move(bound)...)) {}
    explicit OneShotAtTimer(std::function<bool()> callback);

    /// Schedules the next matching time. Each list is sorted; values out of range (hours 0–23,
    /// minutes and seconds 0–59) throw std::invalid_argument.
    void start(std::vector<int> hours = all_hours(), std::vector<int> minutes = all_minutes(),
               std::vector<int> seconds = {0});
    /// Cancels it.
    void stop();
    /// Whether a time is scheduled.
    bool active() const;
    /// The scheduled wall-clock time, or nullopt when not started.
    std::optional<std::chrono::system_clock::time_point> next() const;
    const std::vector<int>& hours() const { return state_->hours; }
    const std::vector<int>& minutes() const { return state_->minutes; }
    const std::vector<int>& seconds() const { return state_->seconds; }

    static std::vector<int> all_hours();
    static std::vector<int> all_minutes();
    /// The first matching time strictly after `after` (exposed for tests).
    static std::chrono::system_clock::time_point next_match(
        std::chrono::system_clock::time_point after, const std::vector<int>& hours,
        const std::vector<int>& minutes, const std::vector<int>& seconds);

protected:
    struct State {
        std::function<bool()> callback;
        std::vector<int> hours, minutes, seconds;
        std::optional<std::chrono::system_clock::time_point> next, last;
        bool repeat = false;
        std::optional<OneShotTimer> timer;
    };
    void schedule();
    std::shared_ptr<State> state_;
};

/// Like OneShotAtTimer, but reschedules after each call unless the callback returned false.
class AtTimer : public OneShotAtTimer {
public:
    template <class F, class... Bound>
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
    Timed(std::chrono::nanoseconds interval, F f, TimedPolicy policy, TimedKind kind)
        : interval_(interval), f_(std::make_shared<F>(std::move(f))), policy_(policy),
          kind_(kind), timers_(std::make_shared<std::map<const void*, Timer>>()) {}

    template <class... Args>
    bool operator()(Args... args) {
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

/// kaa's @timed decorator: see Timed.
template <class F>
Timed<F> timed(std::chrono::nanoseconds interval, F f, TimedPolicy policy = TimedPolicy::many,
               TimedKind kind = TimedKind::repeating) {
    return Timed<F>(interval, std::move(f), policy, kind);
}

}  // namespace kaa
