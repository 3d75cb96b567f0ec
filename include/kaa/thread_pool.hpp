#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// ThreadPool: a set of worker threads sharing one priority queue of threaded calls, and the
// registry of named pools (register_thread_pool(), get_thread_pool()). Calls are submitted
// through kaa::threaded({.pool = ...}, f) or ThreadPoolCallable (kaa/thread.hpp); a pool named
// there that is not registered yet is registered, with size 1, at the first call.
//
// Lifetime: a pool lives while a std::shared_ptr to it does: the wrappers that name it, each
// queued or running call, and the registry (registered pools live until the process ends).
// Destroying it shuts it down (see ThreadPool::shutdown()). Loop shutdown (after main::run())
// shuts every pool down the same way but leaves it usable: later calls start new threads.
//
// Threads: every member and function here is thread-safe.

#include <kaa/detail/access.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace kaa {

namespace detail {
class PoolImpl;
class ThreadJob;
}  // namespace detail

/// A set of worker threads sharing one priority queue of calls: higher priority first, FIFO
/// among equal priorities. Workers are started on demand (while fewer are idle than calls are
/// queued, up to size()) and end after timeout() without work.
///
/// Create it with std::make_shared to register it or to name it in ThreadOptions::pool. A
/// wrapper naming the pool, and each of its calls, keeps the pool alive: queued work is never
/// lost by dropping the pool. Destroying it (its last std::shared_ptr) shuts it down as
/// shutdown() does (without waiting for itself when that happens on one of its own threads).
///
/// Threads: every member is thread-safe.
class ThreadPool {
public:
    /// A pool of at most `size` threads (at least 1), each ending after `timeout` idle.
    explicit ThreadPool(std::size_t size = 1,
                        std::chrono::nanoseconds timeout = std::chrono::seconds(30));
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    /// The maximum number of threads.
    std::size_t size() const;
    /// Changes the maximum; excess threads end after their current call. Throws
    /// std::invalid_argument for 0.
    void set_size(std::size_t size);
    /// How long an idle thread waits for work before it ends.
    std::chrono::nanoseconds timeout() const;
    /// Changes the idle timeout; idle threads re-check at once.
    void set_timeout(std::chrono::nanoseconds timeout);
    /// The registered name; empty until register_thread_pool().
    std::string name() const;
    /// Threads alive now.
    std::size_t thread_count() const;
    /// Calls waiting in the queue (an aborted call stays there, skipped, until dequeued).
    std::size_t queued() const;
    /// What loop shutdown does to every pool: queued calls fail with InProgressAborted (at
    /// once on the loop thread, else posted to it), running calls get a stop request, and this
    /// waits until every thread has ended. The pool stays usable: later calls start new
    /// threads. Must not be called from one of the pool's own threads (it would wait for
    /// itself): throws std::logic_error there.
    void shutdown();

private:
    friend struct detail::Access;

    /// Queues a job, taking over one reference to its state.
    void enqueue(detail::ThreadJob* job);
    /// The implementation (shared with the pool's workers).
    detail::PoolImpl& impl() const { return *impl_; }

    std::shared_ptr<detail::PoolImpl> impl_;
};

/// Registers `pool` as `name` and returns it. Throws std::invalid_argument if a pool is
/// already registered under that name, or if `pool` is null. Registered pools live until the
/// process ends.
std::shared_ptr<ThreadPool> register_thread_pool(const std::string& name,
                                                 std::shared_ptr<ThreadPool> pool);
/// The pool registered as `name`, or nullptr.
std::shared_ptr<ThreadPool> get_thread_pool(std::string_view name);

}  // namespace kaa

#pragma GCC visibility pop
