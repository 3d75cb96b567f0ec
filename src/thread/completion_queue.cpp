// Threads: the completion queue back to the loop, and the failing of jobs that never ran.
//
// Completion queue: executors push finished jobs onto one lock-free stack (g_done); the push
// that finds it empty posts one drain task to the loop, which takes the whole stack, restores
// call order and commits each job (listeners and awaiting coroutines run there), then drops
// the executor's reference. MAINTHREAD calls made off the loop thread travel the same way and
// are executed by the drain.
//
// Threads: see each function; everything that touches listeners runs on the loop thread.

#include "thread/job_stack.hpp"
#include "thread/thread_internal.hpp"

#include <kaa/detail/state.hpp>
#include <kaa/errors.hpp>
#include <kaa/inprogress.hpp>

#include <atomic>
#include <exception>
#include <vector>

namespace kaa::detail {

namespace {

/// Finished jobs (and MAINTHREAD jobs to execute), newest first. One drain task is posted per
/// transition from empty to non-empty.
std::atomic<ThreadJob*> g_done{nullptr};

}  // namespace

/// Any thread: hands a job (and its executor reference) to the loop thread.
void push_completion(ThreadJob* job) noexcept {
    if (push_job(g_done, job, std::memory_order_release) == nullptr) {
        try {
            post_to_loop(Task([] { drain_completions(); }));
        } catch (...) {
            report_exception(std::current_exception(), "Cannot wake the loop for thread results");
        }
    }
}

/// Loop thread: commits every job pushed so far, in push order.
void drain_completions() {
    ThreadJob* fifo = take_jobs_in_order(g_done, std::memory_order_acquire);
    while (fifo) {
        ThreadJob* job = fifo;
        fifo = fifo->next_;
        job->next_ = nullptr;
        try {
            if (job->on_loop_) {
                run_main_thread_job(job);
            } else {
                job->commit();
            }
        } catch (...) {
            // A listener threw a BaseException (SystemExit, an abort): it leaves the loop
            // iteration; the rest of the batch goes back to the queue, in order.
            job->state_->release();
            while (fifo) {
                ThreadJob* next = fifo->next_;
                push_completion(fifo);
                fifo = next;
            }
            throw;
        }
        job->state_->release();
    }
}

// ---------------------------------------------------------------- failing jobs that never ran

/// Loop thread: fails the InProgress of a cancelled job with `error`, or with an
/// InProgressAborted(`message`) when error is null (abort listeners are told; it counts as
/// handled, like any abort).
void fail_cancelled(StateBase& s, const std::exception_ptr& error, const char* message) {
    if (s.finished()) return;
    if (error) {
        s.fail(error);
        return;
    }
    InProgressBase self = handle_of(&s);
    std::exception_ptr exc = std::make_exception_ptr(InProgressAborted(message, self, self));
    try {
        s.emit_abort(exc);
    } catch (...) {
        report_exception(std::current_exception(), "Exception while emitting signal");
    }
    if (s.finished()) return;
    s.handled_ = true;
    s.fail(exc);
}

/// Any thread: cancels a job that has not started and fails its InProgress (see
/// fail_cancelled); takes over one reference. Off the loop thread the failure is posted.
void fail_queued_job(ThreadJob* job, std::exception_ptr error, const char* message) {
    if (!on_loop_thread()) {
        post_to_loop(Task(
            [job, error = std::move(error), message] { fail_queued_job(job, error, message); }));
        return;
    }
    struct Release {
        ThreadJob* job;
        ~Release() { job->state_->release(); }
    } release{job};
    if (!job->job_cancel()) return;  // cancelled by an abort already, or claimed
    fail_cancelled(*job->state_, error, message);
}

/// fail_queued_job() for each, reporting (not propagating) what listeners throw.
void fail_queued_jobs(const std::vector<ThreadJob*>& jobs, const char* message) {
    for (ThreadJob* job : jobs) {
        try {
            fail_queued_job(job, nullptr, message);
        } catch (...) {
            report_exception(std::current_exception(), "Exception while failing a queued call");
        }
    }
}

}  // namespace kaa::detail
