#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// Generator<T>: a kaa coroutine that produces a sequence of values over time (kaa.generator,
// docs/semantics.md [gen]); GeneratorSink<T>: the producer side for code that is not a coroutine
// (kaa's `generic=True`), usable from any thread.
//
//   kaa::Generator<int> numbers() {
//       co_yield 1;
//       int x = co_await fetch();   // any InProgress, or kaa::NotFinished
//       co_yield x + 1;
//   }
//
//   kaa::Coroutine<> consume() {
//       auto gen = numbers();
//       while (auto item = co_await gen.next()) use(*item);   // std::optional<int>
//   }
//
// Rules:
//  * The producer is a kaa coroutine: eager start (the call runs the body up to its first real
//    suspension; an exception thrown before that propagates to the caller), `co_await` on an
//    InProgress resumes inline when it finishes, `co_await kaa::NotFinished` resumes in a later
//    main-loop iteration, abort() throws InProgressAborted at the suspension point, and the
//    frame owns itself while it runs (dropping every handle does not stop it).
//  * `co_yield v` never suspends: v is handed to the oldest pending next() (whose awaiting
//    coroutine resumes inline, inside the co_yield) or buffered. Items produced before the
//    consumer asks are kept, in order, without bound.
//  * next() returns an InProgress<std::optional<T>>: finished at once if an item is buffered;
//    otherwise it finishes with the next item. After the producer returned, next() gives the
//    remaining items and then std::nullopt, every time. After it failed, the remaining items
//    and then its exception, every time; the consumer then owns that exception (the
//    Generator's own failure counts as handled, the next() InProgress is reported if nobody
//    consumes it). An abort is never reported.
//  * Several next() calls may be outstanding; they receive items in call order. A pending
//    next() whose InProgress nobody holds any more (its consumer was aborted, a timeout() on it
//    fired) or that was finished from outside is skipped: it never swallows an item.
//  * A Generator<T> is also the InProgress<void> of the producer: it finishes when the body
//    returns (after its last item was buffered) and fails with its exception. A failure that
//    no next() took over and nobody consumed is reported when the last handle goes.
//  * C++ forbids co_await inside a catch handler (as for Coroutine).
//
// Correspondence with kaa: `@kaa.generator(kaa.coroutine)` → a function returning Generator<T>;
// `for ip in generator: r = yield ip` → `while (auto r = co_await gen.next())`; `generic=True`
// (`generator.send(v)`) → GeneratorSink<T>::push(v); `@kaa.generator(kaa.threaded)` → a
// GeneratorSink pushed from a kaa::threaded call, tied to it with close_when(). kaa's call
// returned an InProgress finished once the first item exists; here the first next() is that
// InProgress.
//
// Memory: one allocation per call (the frame holds the InProgress state and the channel), plus
// the buffered items and one InProgress per next() that has to wait.
//
// Threads: Generator<T> is main-loop thread only, except abort() (posted to the loop thread
// from another thread, as Coroutine::abort()). GeneratorSink<T>::push/close/fail may be
// called from any thread: they are posted to the loop thread and take effect there in call
// order (from one thread).

#include <kaa/coroutine.hpp>
#include <kaa/detail/generator_impl.hpp>
#include <kaa/errors.hpp>
#include <kaa/inprogress.hpp>
#include <kaa/main.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace kaa {

template <class T>
class GeneratorSink;

/// A sequence of T produced over time; see the file comment. A cheap copyable handle: copies
/// share one stream (each item goes to exactly one next() call).
template <class T>
class Generator : public InProgress<void> {
    static_assert(std::is_object_v<T> && !std::is_const_v<T> && std::is_move_constructible_v<T>,
                  "kaa::Generator<T>: T must be a movable, non-const object type");

public:
    /// The C++ coroutine machinery's promise (internal).
    using promise_type = detail::GeneratorPromise<T>;
    /// The type of the items.
    using item_type = T;

    /// The next item as an InProgress: finished at once with a buffered item, else finished
    /// when the producer yields one (its awaiter resumes inline, inside the co_yield or the
    /// sink's push), with std::nullopt once the stream ended, or failed with the producer's
    /// exception. Never throws for a finished stream: the outcome is in the InProgress.
    InProgress<std::optional<T>> next() { return channel().next(); }

    /// Items produced and not yet taken by next().
    std::size_t buffered() const { return channel().buffered(); }
    /// Whether the producer may still yield (false once it finished, failed or was aborted).
    bool active() const {
        if (this->finished()) return false;
        const detail::CoroutineBase* co = coroutine();
        return !co || co->active();
    }
    /// Whether next() can only give the end (or the failure) now: the producer finished and
    /// nothing is buffered.
    bool exhausted() const { return this->finished() && buffered() == 0; }

    /// Aborts the producer (Coroutine::abort(), docs/semantics.md [coro.abort]): InProgressAborted
    /// is thrown at its suspension point; what it awaited is aborted if abortable and nothing else
    /// waits for it. Pending next() calls then fail with the abort (never reported as unhandled).
    /// Throws std::runtime_error if the producer finished or is running (aborting itself). An
    /// uncaught abort is rethrown to the caller, as for a Coroutine. For a sink-fed generator,
    /// this is InProgress::abort() (it needs abort listeners or set_abortable(true)).
    /// Thread-safe: posted to the loop thread, as Coroutine::abort().
    void abort() {
        if (!detail::on_loop_thread()) {
            this->post_abort_from_thread([self = *this]() mutable { self.abort(); });
            return;
        }
        abort(InProgressAborted("Generator aborted", *this, *this));
    }
    /// Aborts with `exc` (its origin is set to this generator if empty). Thread-safe, as abort().
    void abort(const InProgressAborted& exc) {
        if (!detail::on_loop_thread()) {
            this->post_abort_from_thread(
                [self = *this, e = exc.clone_ptr()]() mutable { self.InProgressBase::abort(e); });
            return;
        }
        if (detail::CoroutineBase* co = coroutine()) {
            co->abort_coroutine(exc.clone_ptr());
        } else {
            InProgressBase::abort(exc);
        }
    }

    /// The producer coroutine's minimum delay before each resumption (0 for a sink).
    std::chrono::nanoseconds interval() const {
        const detail::CoroutineBase* co = coroutine();
        return co ? std::chrono::duration_cast<std::chrono::nanoseconds>(co->interval())
                  : std::chrono::nanoseconds{0};
    }
    /// Sets the producer coroutine's interval (see Coroutine::set_interval()). Throws
    /// std::logic_error for a sink-fed generator.
    void set_interval(std::chrono::nanoseconds d) {
        detail::CoroutineBase* co = coroutine();
        if (!co) throw std::logic_error("kaa: a sink-fed Generator has no interval");
        co->set_interval(std::chrono::duration_cast<detail::Duration>(d));
    }

private:
    friend struct detail::GeneratorPromise<T>::ReturnProxy;
    friend class GeneratorSink<T>;
    /// Adopts one reference to `s`.
    explicit Generator(detail::StateBase* s) : InProgress<void>(nullptr) { this->s_ = s; }

    detail::GeneratorChannel<T>& channel() const {
        return dynamic_cast<detail::GeneratorChannel<T>&>(this->state());
    }
    detail::CoroutineBase* coroutine() const {
        return dynamic_cast<detail::CoroutineBase*>(&this->state());
    }
};

/// The producer side of a Generator<T> that is fed by hand instead of by a coroutine body
/// (kaa's `generic=True` generator, and the way to produce items from a worker thread).
///
///   kaa::GeneratorSink<std::string> sink;
///   kaa::Generator<std::string> lines = sink.generator();
///   std::jthread worker([sink] { sink.push("a"); sink.push("b"); sink.close(); });
///
/// push(), close() and fail() may be called from any thread; called off the loop thread they
/// are posted to it (kaa::main::post) and take effect there in the order they were called from
/// that thread. The stream ends when close() or fail() is called or when the last sink handle
/// is destroyed (which closes it). Copies share one stream; a moved-from sink is empty and may
/// only be destroyed or assigned to.
template <class T>
class GeneratorSink {
public:
    /// A new, open stream. Counts as using kaa: if no thread is the main-loop thread yet, the
    /// calling thread becomes it (create the sink on the consumer's side).
    GeneratorSink() : shared_(std::make_shared<Shared>()) { (void)detail::on_loop_thread(); }

    /// The consumer's handle (the same stream each time).
    Generator<T> generator() const {
        shared_->state->add_ref();
        return Generator<T>(shared_->state);
    }

    /// Appends an item (handed to the oldest pending next(), or buffered). Throws
    /// std::logic_error if the stream was closed or failed (on the loop thread; from another
    /// thread the item is dropped silently once the stream ended).
    void push(T item) const {
        Shared* sh = shared_.get();
        if (!detail::on_loop_thread()) {
            main::post([keep = shared_, v = std::move(item)]() mutable {
                if (!keep->state->finished()) keep->channel().push(std::move(v));
            });
            return;
        }
        if (sh->state->finished()) throw std::logic_error("kaa: push() on a closed GeneratorSink");
        sh->channel().push(std::move(item));
    }

    /// False once the stream ended (close(), fail(), or an abort of the generator). Any thread;
    /// from another thread, pushes and ends still queued for the loop are not reflected yet.
    bool active() const { return !shared_->state->finished(); }

    /// Ends the stream: next() gives the remaining items, then std::nullopt. Idempotent.
    void close() const { shared_->end(nullptr); }
    /// Ends the stream with an error: next() gives the remaining items, then fails with `error`.
    /// Ignored if the stream already ended.
    void fail(std::exception_ptr error) const {
        if (!error) throw std::invalid_argument("kaa: GeneratorSink::fail() with a null exception");
        shared_->end(std::move(error));
    }
    /// As fail(std::make_exception_ptr(error)).
    template <class E>
        requires(!std::same_as<std::decay_t<E>, std::exception_ptr>)
    void fail(E&& error) const { fail(std::make_exception_ptr(std::forward<E>(error))); }

    /// Ties the stream to the InProgress of the work that produces it (kaa's
    /// `ip.connect(generator.finish); ip.exception.connect(generator.throw)`): when `producer`
    /// finishes the stream closes; when it fails the stream fails with its exception (which the
    /// stream then owns: `producer`'s failure counts as handled). Keeps the stream open until
    /// then. Main-loop thread only.
    ///
    ///   kaa::GeneratorSink<int> sink;
    ///   auto work = kaa::threaded([](kaa::GeneratorSink<int> s) { s.push(1); s.push(2); });
    ///   sink.close_when(work(sink));
    ///   return sink.generator();
    template <class U>
    void close_when(const InProgress<U>& producer) const {
        InProgress<U> ip = producer;
        ip.connect_both([sink = *this](const auto&...) { sink.close(); },
                        [sink = *this](std::exception_ptr e) {
                            sink.fail(std::move(e));
                            return false;
                        });
    }

private:
    /// Shared by the sink handles (and by tasks posted on their behalf).
    struct Shared {
        detail::SinkState<T>* state = new detail::SinkState<T>();  // one reference, ours
        Shared() = default;
        Shared(const Shared&) = delete;
        Shared& operator=(const Shared&) = delete;
        /// The last sink handle is gone: closes the stream (on the loop thread).
        ~Shared() {
            detail::SinkState<T>* s = state;
            if (detail::on_loop_thread()) {
                s->end(nullptr);
                s->release();
            } else if (s->finished()) {
                s->release();
            } else {
                main::post([s] {
                    s->end(nullptr);
                    s->release();
                });
            }
        }
        detail::GeneratorChannel<T>& channel() { return *state; }
        void end(std::exception_ptr error) {
            detail::SinkState<T>* s = state;
            if (detail::on_loop_thread()) {
                s->end(std::move(error));
                return;
            }
            s->add_ref();
            main::post([s, error = std::move(error)]() mutable {
                s->end(std::move(error));
                s->release();
            });
        }
    };
    std::shared_ptr<Shared> shared_;
};

/// Runs `gen` to its end and finishes with all its items, in order (fails with the producer's
/// exception). A coroutine: main-loop thread only.
template <class T>
Coroutine<std::vector<T>> collect(Generator<T> gen) {
    std::vector<T> items;
    while (auto item = co_await gen.next()) items.push_back(std::move(*item));
    co_return items;
}

/// @cond INTERNAL
template <class T>
detail::GeneratorPromise<T>::ReturnProxy::operator Generator<T>() const {
    promise->returned_ = true;
    if (!promise->done_) promise->add_ref();
    return Generator<T>(promise);
}
/// @endcond

}  // namespace kaa

#pragma GCC visibility pop
