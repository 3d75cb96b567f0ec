#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// The machinery of kaa::Generator<T> (internal): the item channel and the coroutine promise.
//
// GeneratorChannel<T> holds what a producer made and a consumer has not taken yet, plus the
// consumers waiting for the next item. Invariant: `items_` is empty while a live waiter exists
// (an item is handed to the oldest live waiter as soon as it is produced).
//
// States of a channel, read from the producer's state (`producer_`, a StateBase):
//   pending   — the producer may still yield: next() takes a buffered item or waits.
//   succeeded — the stream ended: next() takes the remaining items, then gives std::nullopt.
//   failed    — the producer threw (or was aborted): next() takes the remaining items, then
//               fails with the producer's exception, every time.
//
// GeneratorPromise<T> is a kaa coroutine promise (CoroutinePromiseCommon<void>: eager start,
// NotFinished, InProgress awaits, abort, interval, frame allocator, shutdown unwinding) that is
// also a channel; `co_yield v` pushes v into the channel without suspending. Every way a
// coroutine ends (return, exception, abort, close, loop shutdown) reaches final_suspend, whose
// FinalAwaiter calls finish_frame() on the most derived promise: GeneratorPromise's version
// tells the waiting consumers there (an internal listener would have shown in count()).
//
// Threads: loop thread only (a GeneratorSink marshals its pushes to the loop thread).

#include <kaa/detail/coroutine_impl.hpp>
#include <kaa/detail/state.hpp>
#include <kaa/errors.hpp>
#include <kaa/inprogress.hpp>

#include <coroutine>
#include <cstddef>
#include <deque>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace kaa {

template <class T>
class Generator;

namespace detail {

/// Items produced and consumers waiting, for one Generator. Loop thread only.
///
/// Waiting next() calls are held weakly: a next() InProgress nobody holds any more (its
/// consumer was aborted, a timeout() on it fired and was dropped, the handle was discarded) or
/// that was finished from outside is skipped, so it never swallows an item.
template <class T>
class GeneratorChannel {
public:
    using Item = InProgress<std::optional<T>>;

    explicit GeneratorChannel(StateBase* producer) : producer_(producer) {}
    GeneratorChannel(const GeneratorChannel&) = delete;
    GeneratorChannel& operator=(const GeneratorChannel&) = delete;
    virtual ~GeneratorChannel() = default;

    /// The next item: a buffered one at once, else an InProgress that finishes with the next
    /// produced item, with std::nullopt at the end, or fails with the producer's exception.
    Item next() {
        Item ip;
        if (!items_.empty()) {
            T item = std::move(items_.front());
            items_.pop_front();
            ip.finish(std::optional<T>(std::move(item)));
            return ip;
        }
        switch (producer_->status()) {
            case StateBase::pending:
                waiters_.emplace_back(&Access::state(ip));
                break;
            case StateBase::succeeded:
                ip.finish(std::optional<T>());
                break;
            case StateBase::failed:
                fail_waiter(ip);
                break;
        }
        return ip;
    }

    /// A new item: handed to the oldest live waiting next() (whose awaiting coroutine may
    /// resume inline, inside this call), or buffered in order.
    void push(T item) {
        while (!waiters_.empty()) {
            std::optional<Item> w = take_waiter();
            if (!w) continue;
            w->finish(std::optional<T>(std::move(item)));
            return;
        }
        items_.push_back(std::move(item));
    }

    /// Items produced and not yet taken.
    std::size_t buffered() const noexcept { return items_.size(); }

    /// Called once the producer's state finished (after its own listeners ran): every waiting
    /// next() gets the end, or the failure (which the consumer then owns).
    void producer_ended() {
        const bool failed = producer_->status() == StateBase::failed;
        // One at a time: a consumer resumed inline may call next() again (it then gets the
        // outcome at once, as the producer has finished).
        while (!waiters_.empty()) {
            std::optional<Item> w = take_waiter();
            if (!w) continue;
            if (failed) {
                fail_waiter(*w);
            } else {
                w->finish(std::optional<T>());
            }
        }
    }

private:
    /// Pops the oldest waiter; std::nullopt if it is gone or already finished.
    std::optional<Item> take_waiter() {
        StateBase* s = waiters_.front().lock();
        waiters_.pop_front();
        if (!s) return std::nullopt;
        Item w = Access::adopt<Item>(s);
        if (w.finished()) return std::nullopt;
        return w;
    }

    /// Fails `ip` with the producer's exception. The consumer now owns the failure: the
    /// producer's counts as handled, `ip`'s is reported if nobody consumes it (unless it is an
    /// abort, which is never reported).
    void fail_waiter(Item& ip) {
        std::exception_ptr e = producer_->error_;
        producer_->handled_ = true;
        if (holds_abort(e)) Access::state(ip).handled_ = true;
        ip.throw_exception(e);
    }

    StateBase* producer_;
    std::deque<T> items_;
    std::deque<WeakState> waiters_;  ///< pending next() calls, oldest first
};

/// The promise of a kaa::Generator<T> coroutine: a kaa coroutine promise plus a channel.
template <class T>
class GeneratorPromise final : public CoroutinePromiseCommon<void>, public GeneratorChannel<T> {
public:
    GeneratorPromise() : GeneratorChannel<T>(this) {}

    /// Converted to Generator<T> when the eager first step returns (see
    /// CoroutinePromiseCommon::ReturnProxy: if that step throws, no handle ever exists). Same
    /// reference protocol as CoroutinePromiseCommon: a frame that finished in its first step
    /// hands its own reference to the handle; one that suspended gives the handle a new one.
    struct ReturnProxy {
        GeneratorPromise* promise;
        operator Generator<T>() const;  // NOLINT(google-explicit-constructor)
    };
    ReturnProxy get_return_object() {
        handle_ = std::coroutine_handle<GeneratorPromise>::from_promise(*this);
        return ReturnProxy{this};
    }

    void return_void() noexcept {}

    /// Hides CoroutinePromiseCommon::finish_frame() (FinalAwaiter calls it on the most derived
    /// promise): the same steps — keep them in step with it — plus telling waiting consumers
    /// that the stream ended before the frame drops its own reference.
    void finish_frame() noexcept {
        StateBase* self = this;
        try {
            if (!this->complete_abnormally()) {
                this->set_status(StateBase::succeeded);
                this->StateBase::complete();
            }
        } catch (...) {
            report_exception(std::current_exception(), "Exception while finishing a coroutine");
        }
        try {
            this->producer_ended();
        } catch (...) {
            report_exception(std::current_exception(), "Exception while ending a generator");
        }
        // The frame's own reference; may destroy the frame (it is suspended). Finished before
        // the call returned, that reference becomes the returned handle's instead.
        if (this->returned_) self->release();
    }

    /// `co_yield v`: the item goes to the channel; the producer does not suspend.
    template <class U>
        requires std::constructible_from<T, U&&>
    auto yield_value(U&& v) -> std::suspend_never {
        this->push(T(std::forward<U>(v)));
        return {};
    }
    // destroy(): CoroutinePromiseCommon's, which destroys the frame through handle_.
};

/// The state of a generator fed by a GeneratorSink instead of a coroutine body.
template <class T>
class SinkState final : public State<void>, public GeneratorChannel<T> {
public:
    SinkState() : GeneratorChannel<T>(this) {}

    /// Ends the stream (loop thread): succeeds, or fails with `error`; no-op if it ended.
    void end(std::exception_ptr error) {
        if (this->finished()) return;
        StateRef keep(this);
        if (error) {
            this->fail(std::move(error));
        } else {
            this->succeed();
        }
        this->producer_ended();
    }

protected:
    void destroy() noexcept override { delete this; }
};

}  // namespace detail
}  // namespace kaa

#pragma GCC visibility pop
