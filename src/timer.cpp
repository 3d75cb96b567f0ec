// Timers: the shared TimerCore (Timer, OneShotTimer, Weak*), and the wall-clock At timers.
//
// Threads: loop thread only; Timer::start()/stop() post themselves from other threads.

#include <kaa/detail/loop.hpp>
#include <kaa/timer.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <typeinfo>

namespace kaa {

namespace detail {

namespace {
void fire_timer_core(TimerNode* n) {
    auto* core = static_cast<TimerCore*>(n);
    core->fire_now();
}
/// A Timer in a stall report: its core's type names the callback's type.
std::string timer_core_name(const TimerNode* n) {
    const auto* core = static_cast<const TimerCore*>(n);
    return "the callback of a timer: " + demangle(typeid(*core).name());
}
}  // namespace

TimerCore::TimerCore() {
    static const bool named = (name_timers(&fire_timer_core, &timer_core_name), true);
    (void)named;
    fire = &fire_timer_core;
}

void TimerCore::fire_now() {
    // The armed reference now belongs to this call: the callback may drop every handle.
    self_held_ = false;
    TimerRef keep(this);
    on_fire();
}

void TimerCore::arm_at(Clock::time_point due) {
    timer_arm(this, due);
    if (!self_held_) {
        self_held_ = true;
        add_ref();
    }
}

void TimerCore::start(Duration iv, bool now) {
    ++generation_;
    interval_ = iv;
    has_interval_ = true;
    if (now) {
        const std::uint32_t gen = generation_;
        timer_cancel(this);  // a restart: the old schedule ends before the synchronous call
        add_ref();  // the callback may drop the caller's handle (and stop() the armed reference)
        TimerRef keep(this);
        bool keep_going;
        try {
            keep_going = call();
        } catch (...) {
            if (generation_ == gen) stop();
            throw;  // to the caller of start()
        }
        if (!keep_going) {
            stop();
            return;
        }
        if (generation_ != gen) return;  // the callback restarted or stopped it
    }
    arm_at(refresh_now() + iv);
}

void TimerCore::stop() noexcept {
    ++generation_;
    has_interval_ = false;
    timer_cancel(this);
    if (self_held_) {
        self_held_ = false;
        release();  // may release the last reference: nothing after this
    }
}

void TimerCore::on_fire() {
    const std::uint32_t gen = generation_;
    const Clock::time_point due_was = due;
    if (!alive()) {
        stop();
        return;
    }
    if (oneshot_) has_interval_ = false;
    bool keep_going;
    try {
        keep_going = call();
    } catch (...) {
        // The exception goes to the loop (main::signals().exception); the timer ends, unless
        // the callback restarted it before throwing.
        if (generation_ == gen) stop();
        throw;
    }
    if (generation_ != gen) {
        // start() or stop() ran inside the callback. A timer that re-armed itself and then
        // returned false cancels that restart (kaa's documented OneShotTimer gotcha; kaa's
        // NotifierCallback unregisters whatever is registered then, for every timer).
        if (!keep_going) stop();
        return;
    }
    if (oneshot_ || !keep_going) {
        if (!oneshot_) stop();
        return;
    }
    // Repeat on the original grid, skipping missed periods.
    Clock::time_point now = loop_now();
    Duration iv = interval_;
    Clock::time_point next = due_was + iv;
    if (iv <= Duration::zero()) {
        next = now;
    } else if (next <= now) {
        auto missed = (now - due_was) / iv;
        next = due_was + (missed + 1) * iv;
    }
    arm_at(next);
}

}  // namespace detail

// ---------------------------------------------------------------- Timer

void Timer::start(std::chrono::nanoseconds interval, bool now) {
    auto iv = std::chrono::duration_cast<detail::Duration>(interval);
    if (iv < detail::Duration::zero()) throw std::invalid_argument("kaa: negative timer interval");
    if (!detail::on_loop_thread()) {
        detail::post_to_loop([core = core_, iv, now] { core->start(iv, now); });
        return;
    }
    core_->start(iv, now);
}

void Timer::stop() {
    if (!detail::on_loop_thread()) {
        detail::post_to_loop([core = core_] { core->stop(); });
        return;
    }
    core_->stop();
}

std::optional<std::chrono::nanoseconds> Timer::interval() const {
    detail::assert_loop_thread("Timer::interval()");
    auto iv = core_->interval();
    if (!iv) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::nanoseconds>(*iv);
}

// ---------------------------------------------------------------- At timers

namespace {
std::vector<int> checked_sorted(std::vector<int> v, int max, const char* what) {
    for (int x : v) {
        if (x < 0 || x > max) {
            throw std::invalid_argument(std::string("kaa: AtTimer ") + what +
                                        " out of range: " + std::to_string(x));
        }
    }
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    if (v.empty())
        throw std::invalid_argument(std::string("kaa: AtTimer needs at least one ") + what);
    return v;
}
}  // namespace

OneShotAtTimer::OneShotAtTimer(std::function<bool()> callback, int)
    : state_(std::make_shared<State>()) {
    state_->callback = std::move(callback);
}

std::vector<int> OneShotAtTimer::all_hours() {
    std::vector<int> v(24);
    for (int i = 0; i < 24; ++i) v[static_cast<std::size_t>(i)] = i;
    return v;
}

std::vector<int> OneShotAtTimer::all_minutes() {
    std::vector<int> v(60);
    for (int i = 0; i < 60; ++i) v[static_cast<std::size_t>(i)] = i;
    return v;
}

std::chrono::system_clock::time_point OneShotAtTimer::next_match(
    std::chrono::system_clock::time_point after, const std::vector<int>& hours,
    const std::vector<int>& minutes, const std::vector<int>& seconds) {
    using namespace std::chrono;
    std::time_t t = system_clock::to_time_t(after);  // truncated to whole seconds
    std::tm base{};
    localtime_r(&t, &base);
    for (int day = 0; day < 2; ++day) {
        for (int h : hours) {
            for (int m : minutes) {
                for (int s : seconds) {
                    std::tm cand = base;
                    cand.tm_mday += day;
                    cand.tm_hour = h;
                    cand.tm_min = m;
                    cand.tm_sec = s;
                    cand.tm_isdst = -1;
                    std::time_t ct = std::mktime(&cand);
                    auto tp = system_clock::from_time_t(ct);
                    if (tp > after) return tp;
                }
            }
        }
    }
    throw std::logic_error("kaa: AtTimer found no matching time within two days");
}

void OneShotAtTimer::start(std::vector<int> hours, std::vector<int> minutes,
                           std::vector<int> seconds) {
    detail::assert_loop_thread("OneShotAtTimer::start()");
    state_->hours = checked_sorted(std::move(hours), 23, "hour");
    state_->minutes = checked_sorted(std::move(minutes), 59, "minute");
    state_->seconds = checked_sorted(std::move(seconds), 59, "second");
    ++state_->generation;
    state_->last.reset();
    schedule(state_);
}

void OneShotAtTimer::schedule(const std::shared_ptr<State>& st) {
    using namespace std::chrono;
    auto now = system_clock::now();
    auto from = st->last && *st->last > now ? *st->last : now;
    auto next = next_match(from, st->hours, st->minutes, st->seconds);
    st->next = next;
    st->last = next;
    if (!st->timer) {
        // Strong: while scheduled the State keeps itself alive through its timer (see State).
        st->timer.emplace([st] { fire(st); });
    }
    st->timer->start(duration_cast<nanoseconds>(next - now));
}

void OneShotAtTimer::fire(const std::shared_ptr<State>& st) {
    st->next.reset();
    const std::uint64_t gen = st->generation;
    bool again = false;
    try {
        again = st->callback();
    } catch (...) {
        // The exception goes to the loop and ends the timer, as for a Timer.
        if (st->generation == gen) {
            st->last.reset();
            st->timer.reset();
        }
        throw;
    }
    if (st->generation != gen) return;  // start() or stop() inside the callback decided
    if (st->repeat && again) {
        schedule(st);
    } else {
        st->timer.reset();  // breaks the State ↔ timer cycle; the running core is kept alive
    }
}

void OneShotAtTimer::stop() {
    detail::assert_loop_thread("OneShotAtTimer::stop()");
    ++state_->generation;
    state_->next.reset();
    state_->last.reset();
    if (state_->timer) {
        state_->timer->stop();
        state_->timer.reset();
    }
}

bool OneShotAtTimer::active() const { return state_->timer && state_->timer->active(); }

std::optional<std::chrono::system_clock::time_point> OneShotAtTimer::next() const {
    return state_->next;
}

}  // namespace kaa
