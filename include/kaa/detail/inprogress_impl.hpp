#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// Out-of-line template bodies of kaa/inprogress.hpp (internal).

#include <kaa/inprogress.hpp>

#include <cstdio>
#include <string>

namespace kaa {

namespace detail {
/// Throws std::invalid_argument("kaa: <call> with a negative duration (-1.50 seconds)"): the
/// wording of delay() and timeout() (src/delay.cpp).
[[noreturn]] void throw_negative_duration(const char* call, std::chrono::nanoseconds d);
}  // namespace detail

template <class T>
InProgress<T> InProgress<T>::timeout(std::chrono::nanoseconds t, std::function<void()> callback,
                                     bool abort) const {
    detail::assert_loop_thread("InProgress::timeout()");
    (void)state();  // an empty handle throws std::logic_error before anything is allocated
    if (t < std::chrono::nanoseconds::zero()) detail::throw_negative_duration("timeout()", t);
    // One context shared by the timer, the link from the source and the target's abort
    // listener. It keeps itself alive while the timer is armed; every path that ends the race
    // (source finished, timer fired, target aborted) disarms the timer and drops the link.
    struct Ctx : detail::TimerNode {
        InProgress<T> source;
        InProgress<T> target;
        ListenerId link;
        std::function<void()> callback;
        bool abort = false;
        bool fired = false;  // the deadline passed: the target's abort listener does nothing
        std::chrono::nanoseconds after{};
        std::shared_ptr<Ctx> self;  // set while armed

        void disarm() {
            detail::timer_cancel(this);
            self.reset();  // may destroy *this: call last
        }
    };
    auto ctx = std::make_shared<Ctx>();
    ctx->source = *this;
    ctx->target = InProgress<T>();
    ctx->callback = std::move(callback);
    ctx->abort = abort;
    ctx->after = t;
    InProgress<T> target = ctx->target;

    ctx->link = const_cast<InProgress<T>&>(*this).add(
        [weak = std::weak_ptr<Ctx>(ctx)](detail::StateBase& s) -> bool {
            auto c = weak.lock();
            if (!c || c->target.finished()) return true;
            InProgress<T> tgt = c->target;
            c->disarm();
            if (s.status() == detail::StateBase::failed) {
                tgt.throw_exception(s.error_);
                return false;
            }
            if constexpr (std::is_void_v<T>) {
                tgt.finish();
            } else {
                tgt.finish(detail::state_value<T>(s));
            }
            return true;
        },
        detail::ListenKind::both);

    ctx->fire = [](detail::TimerNode* node) {
        auto* raw = static_cast<Ctx*>(node);
        std::shared_ptr<Ctx> c = std::move(raw->self);
        if (c->target.finished()) return;
        c->fired = true;
        c->source.disconnect(c->link);
        if (c->callback) c->callback();
        char text[96];
        std::snprintf(text, sizeof text, "InProgress timed out after %.02f seconds",
                      std::chrono::duration<double>(c->after).count());
        if (c->abort && !c->source.finished()) {
            try {
                // Its origin is the timeout InProgress T, where the abort comes from
                // (docs/semantics.md [ip.timeout.2]).
                c->source.abort(TimeoutException(text, c->source, c->target));
            } catch (const InProgressAborted&) {
                // kaa swallows an abort escaping the source's abort handlers.
            } catch (...) {
                // The source cannot be aborted (not abortable, or vetoed): say so, but the
                // returned InProgress still times out (kaa would raise out of the timer).
                report_exception(std::current_exception(), "Exception while aborting on timeout");
            }
        }
        if (!c->target.finished()) {
            c->target.throw_exception(TimeoutException(text, c->source, c->target));
        }
    };

    ctx->target.connect_abort([weak = std::weak_ptr<Ctx>(ctx)](const InProgressAborted& e) {
        auto c = weak.lock();
        // After the deadline the TimeoutException thrown into the target reaches this listener
        // too (kaa emits abort listeners for an InProgressAborted): the source was handled.
        if (!c || c->fired) return;
        c->source.disconnect(c->link);
        InProgress<T> src = c->source;
        bool cascade = c->abort;
        c->disarm();
        if (cascade && !src.finished()) {
            try {
                src.abort(e);
            } catch (const InProgressAborted&) {
            }
        }
    });

    if (!target.finished()) {
        ctx->self = ctx;
        detail::timer_arm(ctx.get(),
                          detail::refresh_now() + std::chrono::duration_cast<detail::Duration>(t));
    }
    return target;
}

}  // namespace kaa

#pragma GCC visibility pop
