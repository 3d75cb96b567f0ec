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
// An exception from a callback goes to main::signals().exception and stops the timer (unless
// the callback restarted it first).
//
// Cost: arming and cancelling are O(log n) in a 4-ary heap; each timer is one allocation.
//
// Threads: start() and stop() from another thread are posted to the loop thread; the rest is
// main-thread only.

#include <kaa/detail/callback.hpp>
#include <kaa/detail/loop.hpp>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <vector>

namespace kaa {

namespace detail {

/// The shared state of a timer; it holds itself (`self`) while armed. Loop thread only.
struct TimerCore : TimerNode, std::enable_shared_from_this<TimerCore> {
    std::function<bool()> callback;  ///< the bound user callback; false = stop
    std::function<bool()> alive;     ///< weak timers: whether the owner still lives
    std::optional<Duration> interval;
    bool oneshot = false;
    std::uint64_t generation = 0;  ///< bumped by start()/stop(); detects a restart in a callback
    std::shared_ptr<TimerCore> self;

    TimerCore();
    /// (Re)starts with `iv`; with `now`, calls the callback first (false: stays stopped).
    void start(Duration iv, bool now);
    /// Disarms; may release the last reference (nothing may touch `this` afterwards).
    void stop() noexcept;
    /// Armed and, for weak timers, the owner alive.
    bool active() const;
    /// Arms at `due` and takes the self-reference.
    void arm_at(Clock::time_point due);
    /// The TimerNode::fire action: runs the callback, then stops or re-arms on the grid.
    void on_fire();
};

}  // namespace detail

/// A repeating timer: calls its callback every `interval` until stopped or the callback
/// returns false. Missed periods are skipped, not replayed. Interval 0 fires once per step.
class Timer {
public:
    /// A stopped timer calling `f(bound...)`.
    template <class F, class... Bound>
        requires(!std::derived_from<std::decay_t<F>, Timer>)
    explicit Timer(F f, Bound... bound) : Timer() {
        core_->callback = detail::bind_loop_callback(std::move(f), std::move(bound)...);
    }

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
    /// A stopped one-shot timer calling `f(bound...)`.
    template <class F, class... Bound>
        requires(!std::derived_from<std::decay_t<F>, Timer>)
    explicit OneShotTimer(F f, Bound... bound) : Timer(std::move(f), std::move(bound)...) {
        core_->oneshot = true;
    }
};

/// A repeating timer bound to an owner: while the owner lives it calls `f(bound...)` (or,
/// for a member function pointer, `(owner->*f)(bound...)`); once the owner died it never fires
/// again and becomes inactive.
class WeakTimer : public Timer {
public:
    /// A stopped timer calling `f(bound...)` or `(owner->*f)(bound...)` while `owner` lives.
    template <class O, class F, class... Bound>
    WeakTimer(std::weak_ptr<O> owner, F f, Bound... bound) : Timer() {
        core_->alive = [owner] { return !owner.expired(); };
        core_->callback =
            detail::bind_weak_loop_callback(std::move(owner), std::move(f), std::move(bound)...);
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
        core_->oneshot = true;
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
    /// Cancels it; also from inside its own callback (an AtTimer then does not reschedule).
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
        : interval_(interval), f_(std::make_shared<F>(std::move(f))), policy_(policy),
          kind_(kind), timers_(std::make_shared<std::map<const void*, Timer>>()) {}

    /// Starts a timer calling `f(args...)` (copies of the arguments), unless the policy is
    /// `once` and this function's (or this object's) timer is still active: then returns false
    /// and does nothing. With `restart`, stops the active timer first. Never calls f itself.
    /// Loop thread only.
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

/// kaa's @timed(interval, policy) decorator: returns a callable that runs `f` on a timer
/// (see Timed). Example: `auto poll = kaa::timed(100ms, check_device, TimedPolicy::once);`
template <class F>
Timed<F> timed(std::chrono::nanoseconds interval, F f, TimedPolicy policy = TimedPolicy::many,
               TimedKind kind = TimedKind::repeating) {
    return Timed<F>(interval, std::move(f), policy, kind);
}

}  // namespace kaa
