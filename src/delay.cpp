// kaa::delay: an InProgress state with an embedded timer entry.

#include <kaa/delay.hpp>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace kaa {

namespace {

class DelayState final : public detail::State<void>, public detail::TimerNode {
public:
    DelayState() {
        set_abortable(true);
        static const bool named = [] {
            detail::name_timers(&fire_delay, [](const detail::TimerNode*) {
                return std::string("the timer of a delay()");
            });
            return true;
        }();
        (void)named;
        fire = &fire_delay;
    }
    static void fire_delay(detail::TimerNode* n) {
        {
            // A reference cast: no null check for GCC 12 to misread (-Wstringop-overflow).
            auto& self = static_cast<DelayState&>(*n);
            detail::StateRef armed_ref(&self, /*adopt=*/true);  // the reference taken by arm()
            if (!self.finished()) self.succeed();
        }
    }
    std::string describe() const override {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(due - detail::Clock::now());
        return armed() ? "delay() (due in " + std::to_string(left.count()) + " ms)"
                       : std::string("delay()");
    }
    void arm(detail::Clock::time_point due) {
        add_ref();  // held while armed
        detail::timer_arm(this, due);
    }
    void abort(std::exception_ptr exc) override {
        // Abort first: if it throws (finished, vetoed by a listener) the timer keeps running.
        StateBase::abort(std::move(exc));
        if (armed()) {
            detail::timer_cancel(this);
            detail::StateRef armed_ref(this, /*adopt=*/true);  // the caller's handle keeps us alive
        }
    }

protected:
    void destroy() noexcept override { delete this; }
};

}  // namespace

namespace detail {
void throw_negative_duration(const char* call, std::chrono::nanoseconds d) {
    // Seconds, as in the TimeoutException messages of wait() and timeout().
    char text[128];
    std::snprintf(text, sizeof text, "kaa: %s with a negative duration (%.02f seconds)", call,
                  std::chrono::duration<double>(d).count());
    throw std::invalid_argument(text);
}
}  // namespace detail

InProgress<void> delay(std::chrono::nanoseconds duration) {
    detail::assert_loop_thread("delay()");
    if (duration < std::chrono::nanoseconds::zero()) {
        detail::throw_negative_duration("delay()", duration);
    }
    auto* s = new DelayState();
    auto ip = detail::Access::adopt<InProgress<void>>(s);
    s->arm(detail::refresh_now() + std::chrono::duration_cast<detail::Duration>(duration));
    return ip;
}

}  // namespace kaa
