#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// The machinery behind kaa/thread.hpp (internal): the job record every threaded call allocates
// and the completion queue that carries finished jobs back to the loop thread. (The per-object
// lock registry of kaa::synchronized is in kaa/synchronized.hpp.)
//
// One allocation per call: a ThreadTask<T, Shared, Args...> is at once the InProgress state
// (a State<T>) and the job (a ThreadJob): the callable's arguments, the result slot, the stop
// source and the links used by the pool queue and the completion queue.
//
// Phases of a job (ThreadJob::phase_, an atomic):
//   queued    — created, waiting in a pool queue, for its thread to start, or (MAINTHREAD from
//               another thread) for the loop's completion drain to run it
//   running   — claimed by an executor (queued → running is a CAS); the callable runs
//   done      — the callable returned; value_/job_error_ hold its outcome
//   cancelled — aborted (or failed by a pool shutdown) while queued: the callable never runs
// An abort that finds the job running emits the callable's abort signal and requests a stop
// through stop_; the late outcome is discarded by commit(), which sees the state finished.
//
// References: the state starts with the caller's handle; the executor holds one more from
// dispatch until the loop thread has drained the job's completion (so the state is almost
// always freed on the loop thread, and never while an executor still touches it).
//
// Threads: execute() runs on the executor thread; commit(), abort and every listener run on
// the loop thread. The value/job_error_ written by the executor are published to the loop thread
// by the release/acquire pair of the completion queue.

#include <kaa/detail/frame_alloc.hpp>
#include <kaa/detail/state.hpp>
#include <kaa/errors.hpp>
#include <kaa/inprogress.hpp>
#include <kaa/signal.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <stop_token>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace kaa {
class InProgressStatus;
}  // namespace kaa

namespace kaa::detail {

/// See the phases in the file comment.
enum class JobPhase : std::uint8_t { queued, running, done, cancelled };

/// The type-independent half of a threaded call (see the file comment).
class ThreadJob {
public:
    ThreadJob() = default;
    ThreadJob(const ThreadJob&) = delete;
    ThreadJob& operator=(const ThreadJob&) = delete;

    /// Executor: queued → running, unless it was cancelled or its InProgress already finished
    /// (then the callable must not run). Returns whether the caller may execute().
    bool job_claim() noexcept {
        JobPhase expected = JobPhase::queued;
        if (!phase_.compare_exchange_strong(expected, JobPhase::running,
                                            std::memory_order_acq_rel)) {
            return false;
        }
        if (state_->finished()) {
            phase_.store(JobPhase::done, std::memory_order_release);
            return false;
        }
        return true;
    }
    /// Executor: runs the callable, storing its value (State<T>::value_) or job_error_, then
    /// marks the job done. Never throws.
    void job_run() noexcept {
        execute();
        phase_.store(JobPhase::done, std::memory_order_release);
    }
    /// Loop thread: queued → cancelled. Returns whether it was still queued (it then never runs).
    bool job_cancel() noexcept {
        JobPhase expected = JobPhase::queued;
        return phase_.compare_exchange_strong(expected, JobPhase::cancelled,
                                              std::memory_order_acq_rel);
    }
    JobPhase job_phase() const noexcept { return phase_.load(std::memory_order_acquire); }

    /// Loop thread: stores the outcome in the InProgress unless it already finished (aborted:
    /// the late result is discarded). Listeners run inside.
    virtual void commit() = 0;

    ThreadJob* next_ = nullptr;   ///< link: pool lane, completion stack, per-call thread registry
    ThreadJob* prev_ = nullptr;   ///< link: per-call thread registry (doubly linked)
    StateBase* state_ = nullptr;  ///< this job's InProgress state (the same object)
    std::stop_source stop_{std::nostopstate};  ///< a real one only if the callable takes a token
    std::exception_ptr job_error_;             ///< the callable's exception (executor-written)
    /// The wrapper's abort signal, emitted when a running job is aborted (loop thread).
    Signal<const InProgressAborted&>* abort_signal_ = nullptr;
    InProgressStatus* job_status_ = nullptr;  ///< progress status handed to the callable, or null
    int priority_ = 0;                        ///< pool queue order: higher first
    bool on_loop_ = false;                    ///< MAINTHREAD: executed by the loop thread
    bool wait_on_exit_ = false;               ///< per-call thread: loop shutdown waits for it

protected:
    virtual ~ThreadJob() = default;
    /// Runs the callable and stores its outcome; never throws.
    virtual void execute() noexcept = 0;

private:
    std::atomic<JobPhase> phase_{JobPhase::queued};
};

/// kaa's abort of a threaded call (loop thread): abort listeners (may veto), then cancel a
/// queued job or, for a running one, emit the callable's abort signal and request a stop
/// (unless a signal handler returned false); the InProgress fails at once either way.
void thread_abort(StateBase& state, ThreadJob& job, std::exception_ptr exc);

/// The InProgress state and job record of a threaded call returning T.
template <class T>
class ThreadState : public State<T>, public ThreadJob {
public:
    ThreadState() {
        this->set_abortable(true);
        state_ = this;
    }

    /// Frames and jobs share the per-thread size-class free list (jobs are mostly created and
    /// freed on the loop thread).
    static void* operator new(std::size_t size) { return frame_alloc(size); }
    static void operator delete(void* p, std::size_t size) noexcept { frame_free(p, size); }

    void abort(std::exception_ptr exc) override { thread_abort(*this, *this, std::move(exc)); }
    std::string describe() const override { return "a thread job"; }

    void commit() override {
        if (this->finished()) return;  // aborted or finished from outside: discard
        if (job_error_) {
            this->fail(job_error_);
            return;
        }
        if (job_phase() != JobPhase::done) return;  // never ran (cannot happen unfinished)
        this->set_status(StateBase::succeeded);
        this->complete();
    }

protected:
    void destroy() noexcept override { delete this; }
};

/// The job of one call: the shared wrapper state (callable, dispatch, abort signal) and the
/// decayed arguments, passed to the callable as rvalues (like std::thread).
template <class T, class Shared, class... A>
class ThreadTask final : public ThreadState<T> {
public:
    template <class... U>
    explicit ThreadTask(std::shared_ptr<Shared> shared, U&&... args)
        : shared_(std::move(shared)), args_(std::forward<U>(args)...) {}

protected:
    void execute() noexcept override {
        try {
            if constexpr (std::is_void_v<T>) {
                call();
            } else {
                this->value_.emplace(call());
            }
        } catch (...) {
            this->job_error_ = std::current_exception();
        }
    }

private:
    decltype(auto) call() {
        return std::apply(
            [this](A&... a) -> decltype(auto) {
                return Shared::invoke(shared_->fn, this->stop_, this->job_status_, std::move(a)...);
            },
            args_);
    }

    std::shared_ptr<Shared> shared_;
    std::tuple<A...> args_;
};

}  // namespace kaa::detail

#pragma GCC visibility pop
