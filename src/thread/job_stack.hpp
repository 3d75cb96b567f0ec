#pragma once
// The lock-free job stacks of the threads subsystem (private to src/thread/): the completion
// queue (completion_queue.cpp) and a pool's submissions (thread_pool.cpp).
//
// Lifetime: a stack owns nothing; a pushed job (and the reference its pusher held) belongs to
// whoever takes it.
//
// Threads: any thread pushes; one consumer at a time takes the whole stack.

#include <kaa/detail/thread_impl.hpp>

#include <atomic>

namespace kaa::detail {

// The completion queue and a pool's submissions are LIFO stacks linked through ThreadJob::next_:
// any thread pushes with one CAS, the consumer takes the whole stack and restores push order.

/// Pushes `job` onto `top` (`order`: the CAS's success order); returns the previous top (null:
/// the stack was empty).
inline ThreadJob* push_job(std::atomic<ThreadJob*>& top, ThreadJob* job,
                           std::memory_order order) noexcept {
    ThreadJob* old = top.load(std::memory_order_relaxed);
    do {
        job->next_ = old;
    } while (!top.compare_exchange_weak(old, job, order, std::memory_order_relaxed));
    return old;
}

/// Takes every job from `top` (`order`: the exchange's order) and returns them in push order,
/// linked through next_.
inline ThreadJob* take_jobs_in_order(std::atomic<ThreadJob*>& top,
                                     std::memory_order order) noexcept {
    ThreadJob* stack = top.exchange(nullptr, order);
    ThreadJob* fifo = nullptr;
    while (stack) {
        ThreadJob* next = stack->next_;
        stack->next_ = fifo;
        fifo = stack;
        stack = next;
    }
    return fifo;
}

}  // namespace kaa::detail
