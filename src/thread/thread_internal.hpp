#pragma once
// What the files of src/thread/ share (private): handing jobs back to the loop thread, failing
// jobs that never ran, running MAINTHREAD jobs, and the pool side of dispatch and loop shutdown.
// Each function is documented where it is defined.
//
//   completion_queue.cpp  push_completion(), drain_completions(), fail_cancelled(),
//                         fail_queued_job(), fail_queued_jobs()
//   threaded.cpp          run_main_thread_job(), thread_abort(), dispatch_job(), per-call
//                         threads, the loop-shutdown hook
//   thread_pool.cpp       ThreadPool, resolve_pool(), shutdown_pools()
//   synchronized.cpp      the kaa::synchronized lock registry
//   job_stack.hpp         the lock-free job stacks (completions, pool submissions)
//
// Lifetime: a job handed to one of these functions comes with one reference to its state, as
// each function's comment says.
//
// Threads: see each function; everything that touches listeners runs on the loop thread.

#include <kaa/thread.hpp>

#include <exception>
#include <vector>

namespace kaa::detail {

/// A handle on `s` (a new reference).
inline InProgressBase handle_of(StateBase* s) { return detail::Access::share<InProgressBase>(s); }

// ---------------------------------------------------------------- completion_queue.cpp

void push_completion(ThreadJob* job) noexcept;
void drain_completions();
void fail_cancelled(StateBase& s, const std::exception_ptr& error, const char* message);
void fail_queued_job(ThreadJob* job, std::exception_ptr error, const char* message);
void fail_queued_jobs(const std::vector<ThreadJob*>& jobs, const char* message);

// ---------------------------------------------------------------- threaded.cpp

void run_main_thread_job(ThreadJob* job);

// ---------------------------------------------------------------- thread_pool.cpp

ThreadPool& resolve_pool(ThreadDispatch& d);
void shutdown_pools();

}  // namespace kaa::detail
