#pragma once
// The reactor behind kaa/detail/loop.hpp (private to src/): one iteration of the loop in seven
// phases (loop.cpp), over a timer heap (timer_heap.hpp), an epoll fd table (fd_table.hpp) and
// SIGINT/SIGTERM handling (posix_signals.hpp) and child reaping (child_watch.hpp). It knows nothing of InProgress, coroutines or
// the kaa::main facade: the facade (src/main.cpp) drives it with step_once() and keeps the run
// state; coroutines register in the active registry with their own unwind function.
//
// Lifetime: one per process, created on first use, never destroyed (timers, watchers and frames
// may outlive main()).
//
// Threads: loop-thread only, except instance(), exists(), post() and wakeup().

#include "loop/child_watch.hpp"
#include "loop/fd_table.hpp"
#include "loop/posix_signals.hpp"
#include "loop/timer_heap.hpp"

#include <kaa/detail/callback.hpp>
#include <kaa/detail/loop.hpp>

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace kaa::detail {

class Loop {
public:
    /// The process's one loop, created on first use; its creator becomes the loop thread.
    static Loop& instance();
    /// Whether instance() was called already (never creates the loop).
    static bool exists() noexcept;

    /// One iteration: the seven phases in loop.cpp. may_block=false never sleeps. An exception
    /// from a callback ends the iteration early; what the phase did not reach runs next time.
    void step_once(bool may_block);
    /// Empties the wakeup eventfd, so that the epoll fd stops being readable (a foreign loop
    /// polls it: backend_fd()); step_nowait() calls it before step_once(false), which skips
    /// epoll_wait when no fd is watched. Whatever was posted runs in that iteration, and a
    /// post after it writes the eventfd again.
    void drain_wakeup_fd() noexcept;
    /// The epoll fd (kaa::main::backend_fd()).
    int backend_fd() const noexcept { return epfd_; }
    /// What the epoll timeout of the next iteration would be: 0 if work is ready or posted,
    /// until the next timer, or -1 with neither (kaa::main::backend_timeout()).
    Duration backend_timeout();

    /// Arms or moves `n` (O(log n)); see timer_arm().
    void arm(TimerNode* n, Clock::time_point due) { timers_.arm(n, due); }
    /// Disarms `n` if armed (O(log n)).
    void cancel(TimerNode* n) noexcept { timers_.cancel(n); }
    /// Number of armed timers.
    std::size_t timer_count() const noexcept { return timers_.size(); }
    /// The clock as read at the last phase boundary (or refresh_now()).
    Clock::time_point now() const noexcept { return now_; }
    /// Reads the clock and stores it as now().
    Clock::time_point refresh_now() noexcept { return now_ = Clock::now(); }

    /// Queues `t` for the ready phase (5) of the next iteration that reaches it.
    void schedule(Task t);
    /// Queues `t` from any thread for the posted phase (7) and wakes the loop. Thread-safe.
    void post(Task t);
    /// Wakes the loop if it sleeps in epoll_wait. Thread-safe, async-signal-safe.
    void wakeup() noexcept;

    /// The fd watchers (phase 6).
    FdTable& fds() noexcept { return fds_; }
    /// SIGINT/SIGTERM handling, installed by main::run() for its duration.
    PosixSignals& posix_signals() noexcept { return signals_; }
    /// Child reaping (phase 3).
    ChildWatch& children() noexcept { return children_; }

    /// The registry head of running coroutines (circular list).
    ActiveNode& active_head() noexcept { return active_; }
    /// Unwinds every suspended coroutine frame (loop shutdown), including frames started while
    /// doing so, in rounds (bounded against frames that keep starting new ones).
    void shutdown_active();

    /// Makes the calling thread the loop thread.
    static void set_loop_thread() noexcept;

private:
    Loop();
    static void claim_thread_if_unset() noexcept;

    static constexpr int kIdleSleepMs = 30000;
    static constexpr int kMaxEvents = 128;  ///< per epoll_wait (the rest: next iteration)

    /// The epoll timeout when nothing is ready: until the next timer, or the idle step.
    int sleep_ms();
    /// Ready tasks, posted work or a pending POSIX signal: the iteration must not sleep.
    bool has_immediate_work();
    /// Whether the earliest timer may be due, by the coarse clock (true when unsure).
    bool timer_may_be_due() const noexcept;
    void drain_wakeups(const epoll_event* events, int n);
    bool has_posted();
    void run_posted();
    void run_ready();
    /// The idle step before epoll_wait sleeps: frees the buffers a spike left (timer heap,
    /// ready queue) and runs the add_idle_hook() hooks. True if anything did work.
    bool run_idle_hooks() noexcept;

    int epfd_ = -1;            ///< the epoll instance
    int wakefd_ = -1;          ///< eventfd: posts and POSIX signals wake the loop
    Clock::time_point now_{};  ///< clock read once per phase boundary
    /// How far the coarse clock may lag steady_clock (0: do not use the coarse clock).
    Duration coarse_slack_{};
    TimerHeap timers_;                      ///< phase 4
    FdTable fds_{-1};                       ///< phase 6 (given the epoll fd in the constructor)
    PosixSignals signals_;                  ///< phase 3
    ChildWatch children_;                   ///< phase 3: SIGCHLD, callbacks run in phase 5
    std::vector<Task> ready_;               ///< resumptions for the next ready phase
    std::vector<Task> ready_spare_;         ///< an empty buffer with capacity, reused by run_ready
    std::mutex post_mutex_;                 ///< guards posted_
    std::atomic<bool> posted_flag_{false};  ///< posted_ may be non-empty (skips the lock when not)
    std::vector<Task> posted_;              ///< work from other threads
    std::vector<Task> posted_spare_;        ///< an empty buffer with capacity, reused by run_posted
    ActiveNode active_{&active_, &active_, nullptr};  ///< running coroutines (circular list)
};

}  // namespace kaa::detail
