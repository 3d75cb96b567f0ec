// Threads: threaded calls — abort, per-call threads, MAINTHREAD, dispatch (kaa::threaded()) and
// the loop-shutdown hook that stops pools and per-call threads.
//
// Threads: see each function; everything that touches listeners runs on the loop thread.

#include "main_internal.hpp"
#include "thread/thread_internal.hpp"

#include <kaa/detail/loop.hpp>
#include <kaa/thread.hpp>

#include <condition_variable>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace kaa::detail {

/// Loop thread: runs a MAINTHREAD job unless it was cancelled; rethrows a SystemExit it threw
/// (after failing its InProgress with it), as kaa does.
void run_main_thread_job(ThreadJob* job) {
    if (!job->job_claim()) return;
    job->job_run();
    job->commit();
    if (job->job_error_ && holds<SystemExit>(job->job_error_)) {
        job->state_->handled_ = true;
        std::rethrow_exception(job->job_error_);
    }
}

namespace {

bool emit_abort_signal(Signal<const InProgressAborted&>& signal, const std::exception_ptr& e) {
    if (const auto* a = peek_exception<const InProgressAborted>(e)) return signal.emit(*a);
    return true;  // not reached: the exception is always an InProgressAborted
}

}  // namespace

// ---------------------------------------------------------------- abort

void thread_abort(StateBase& s, ThreadJob& job, std::exception_ptr exc) {
    if (s.finished()) throw std::runtime_error("kaa: abort(): InProgress already finished");
    InProgressBase self = handle_of(&s);
    if (!s.abortable()) throw_not_abortable(s, "InProgress");
    if (abort_deferred_if_deep(s, exc)) return;
    AbortNesting nesting;
    AbortingScope aborting(s);  // [ip.abort.7]: a re-entrant abort() is refused
    if (!s.emit_abort(exc)) throw_abort_vetoed("InProgress");
    if (s.finished()) return;  // an abort listener finished it

    // The delivered exception names this InProgress; its origin is kept (or set to it).
    if (!holds<InProgressAborted>(exc)) {
        throw std::invalid_argument(
            "kaa: exception must be an instance of InProgressAborted (or subclass thereof)");
    }
    std::exception_ptr delivered = abort_delivered_to(exc, &s, &s);

    std::exception_ptr signal_error;
    if (!job.job_cancel() && job.job_phase() == JobPhase::running) {
        bool stop = true;
        if (job.abort_signal_) {
            try {
                stop = emit_abort_signal(*job.abort_signal_, delivered);
            } catch (...) {
                signal_error = std::current_exception();
            }
        }
        if (stop) job.stop_.request_stop();
    }
    if (!s.finished()) {
        s.handled_ = true;  // an explicit abort is not an error nobody saw
        s.fail(delivered);
    }
    if (signal_error) std::rethrow_exception(signal_error);
}

// ---------------------------------------------------------------- per-call threads

namespace {

/// Jobs of per-call threads that have not ended (for loop shutdown). Never destroyed.
struct CallThreads {
    std::mutex m;
    std::condition_variable cv;
    ThreadJob* head = nullptr;  ///< doubly linked through prev_/next_
    std::size_t must_wait = 0;  ///< linked jobs with wait_on_exit_
};
CallThreads& call_threads() {
    static auto* c = new CallThreads();
    return *c;
}

void link_call(CallThreads& c, ThreadJob* job) {
    job->prev_ = nullptr;
    job->next_ = c.head;
    if (c.head) c.head->prev_ = job;
    c.head = job;
    if (job->wait_on_exit_) ++c.must_wait;
}

void unlink_call(CallThreads& c, ThreadJob* job) {
    if (job->prev_) {
        job->prev_->next_ = job->next_;
    } else {
        c.head = job->next_;
    }
    if (job->next_) job->next_->prev_ = job->prev_;
    job->prev_ = job->next_ = nullptr;
    if (job->wait_on_exit_ && --c.must_wait == 0) c.cv.notify_all();
}

void run_call_thread(ThreadJob* job) {
    if (job->job_claim()) job->job_run();
    CallThreads& c = call_threads();
    // Both under the mutex: once shutdown sees the job gone, its result is in the queue.
    std::lock_guard lk(c.m);
    unlink_call(c, job);
    push_completion(job);
}

void start_call_thread(ThreadJob* job, bool wait) {
    CallThreads& c = call_threads();
    job->wait_on_exit_ = wait;
    {
        std::lock_guard lk(c.m);
        link_call(c, job);
    }
    try {
        std::thread([job] { run_call_thread(job); }).detach();
    } catch (...) {
        {
            std::lock_guard lk(c.m);
            unlink_call(c, job);
        }
        fail_queued_job(job, std::current_exception(), nullptr);
    }
}

/// Loop shutdown: calls not started yet fail (aborted), running ones get a stop request; then
/// waits for those that asked for it.
void shutdown_call_threads() {
    CallThreads& c = call_threads();
    std::vector<ThreadJob*> cancelled;
    {
        std::unique_lock lk(c.m);
        for (ThreadJob* job = c.head; job; job = job->next_) {
            if (job->job_cancel()) {
                job->state_->add_ref();
                cancelled.push_back(job);
            } else {
                job->stop_.request_stop();
            }
        }
        c.cv.wait(lk, [&] { return c.must_wait == 0; });
    }
    for (ThreadJob* job : cancelled) {
        try {
            fail_cancelled(*job->state_, nullptr, "kaa: main loop shut down");
        } catch (...) {
            report_exception(std::current_exception(), "Exception while failing a queued call");
        }
        job->state_->release();
    }
}

// ---------------------------------------------------------------- loop shutdown

/// The shutdown hook: pools, per-call threads, then deliver what finished meanwhile.
void thread_shutdown() {
    shutdown_pools();
    shutdown_call_threads();
    drain_completions();
}

std::once_flag g_hook_once;

void ensure_shutdown_hook() {
    std::call_once(g_hook_once, [] {
        if (on_loop_thread()) {
            add_shutdown_hook(thread_shutdown);
        } else {
            post_to_loop(Task([] { add_shutdown_hook(thread_shutdown); }));
        }
    });
}

}  // namespace

void dispatch_job(ThreadJob* job, ThreadDispatch& d) {
    try {
        ensure_shutdown_hook();
    } catch (...) {
        job->state_->release();
        throw;
    }
    switch (d.target.kind()) {
        case ThreadTarget::Kind::main_thread:
            job->on_loop_ = true;
            if (on_loop_thread()) {
                struct Release {
                    ThreadJob* job;
                    ~Release() { job->state_->release(); }
                } release{job};
                run_main_thread_job(job);
            } else {
                push_completion(job);
            }
            return;
        case ThreadTarget::Kind::pool: {
            job->priority_ = d.priority;
            try {
                Access::enqueue(resolve_pool(d), job);  // throws only before the job is queued
            } catch (...) {
                job->state_->release();
                throw;
            }
            return;
        }
        case ThreadTarget::Kind::new_thread:
            start_call_thread(job, d.wait);
            return;
    }
}

}  // namespace kaa::detail
