#pragma once
// The Loop object behind kaa::main and kaa/detail/loop.hpp (private to src/).
//
// Lifetime: one per process, created on first use, never destroyed (timers, watchers and frames
// may outlive main()).
//
// Threads: loop-thread only, except instance(), exists(), post() and wakeup().

#include <kaa/detail/callback.hpp>
#include <kaa/detail/loop.hpp>

#include <sys/epoll.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <functional>
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

    /// Arms or moves `n` (O(log n)); see timer_arm().
    void arm(TimerNode* n, Clock::time_point due);
    /// Disarms `n` if armed (O(log n)).
    void cancel(TimerNode* n) noexcept;
    /// The clock as read at the last phase boundary (or refresh_now()).
    Clock::time_point now() const noexcept { return now_; }
    /// Reads the clock and stores it as now().
    Clock::time_point refresh_now() noexcept { return now_ = Clock::now(); }

    /// Queues `t` for the ready phase (7) of the next iteration that reaches it.
    void schedule(Task t);
    /// Queues `t` from any thread for the posted phase (6) and wakes the loop. Thread-safe.
    void post(Task t);
    /// Wakes the loop if it sleeps in epoll_wait. Thread-safe, async-signal-safe.
    void wakeup() noexcept;

    /// See detail::io_register().
    void io_register(IoWatcher* w, int fd, bool write);
    /// See detail::io_unregister().
    void io_unregister(IoWatcher* w) noexcept;

    /// Installs the SIGTERM handler, and the SIGINT one if SIGINT has its default disposition;
    /// both turn the signal into a kaa::SystemExit thrown at phase 3. Called by run().
    void install_signal_handlers();
    /// Puts back the dispositions install_signal_handlers() replaced, and drops a signal that
    /// arrived but was not delivered yet. Called when run() ends.
    void restore_signal_handlers() noexcept;

    /// The registry head of running coroutines (circular list).
    ActiveNode& active_head() noexcept { return active_; }
    /// Unwinds every suspended coroutine frame (loop shutdown), including frames started while
    /// doing so, in rounds (bounded against frames that keep starting new ones).
    void shutdown_active();
    /// Hooks run by the shutdown sequence (thread pools).
    std::vector<std::function<void()>>& shutdown_hooks() { return shutdown_hooks_; }

    /// A heap slot: the node's deadline copied next to it (its arming order breaks ties).
    struct HeapEntry {
        Clock::time_point due;
        TimerNode* node;
    };

    /// Makes the calling thread the loop thread.
    static void set_loop_thread() noexcept;
    /// Number of armed timers.
    std::size_t timer_count() const noexcept { return heap_.size(); }

    // Run state, owned by main.cpp's facade (loop thread only, except `running`).
    int depth = 0;                   ///< nesting of loop_while() calls
    int stepping = 0;                ///< nesting of main::step() calls
    std::atomic<bool> running{false};  ///< a loop_while() is active (kaa's is_running()); atomic:
                                       ///< loop_while() on another thread reads it
    bool in_run = false;             ///< main::run() is active (its loop is the outermost)
    bool shutting_down = false;      ///< the shutdown sequence started
    bool stopped = false;            ///< a run() ended (false before the first one)
    bool stop_requested = false;     ///< stop() was called while a loop ran; cleared when the
                                     ///< outermost loop ends or a SystemExit is vetoed
    bool shutdown_deferred = false;  ///< stop() inside a bare step(): shut down when it returns

private:
    Loop();
    static void claim_thread_if_unset() noexcept;

    struct FdEntry {
        IoWatcher* read = nullptr;
        IoWatcher* write = nullptr;
        std::uint32_t events = 0;      ///< what epoll currently watches (0: not in the set)
        std::uint32_t generation = 0;  ///< bumped on each ADD: events of older ADDs are dropped
    };
    static constexpr std::uint64_t kWakeToken = ~std::uint64_t{0};
    static constexpr int kIdleSleepMs = 30000;
    static constexpr int kMaxEvents = 128;  ///< per epoll_wait (the rest: next iteration)

    void heap_place(std::size_t i, const HeapEntry& e);
    void sift_up(std::size_t i);
    void sift_down(std::size_t i);
    void heap_fix(std::size_t i);
    void heap_remove(TimerNode* n);
    /// The epoll timeout when nothing is ready: until the next timer, or the idle step.
    int sleep_ms();
    /// Ready tasks, posted work or a pending POSIX signal: the iteration must not sleep.
    bool has_immediate_work();
    /// Whether the earliest timer may be due, by the coarse clock (true when unsure).
    bool timer_may_be_due() const noexcept;
    void drain_wakeups(const epoll_event* events, int n);
    void run_timers();
    void run_io(const epoll_event* events, int n);
    void update_fd(int fd);
    bool has_posted();
    void run_posted();
    void run_ready();

    int epfd_ = -1;                   ///< the epoll instance
    int wakefd_ = -1;                 ///< eventfd: posts and POSIX signals wake the loop
    Clock::time_point now_{};         ///< clock read once per phase boundary
    /// How far the coarse clock may lag steady_clock (0: do not use the coarse clock).
    Duration coarse_slack_{};
    std::vector<HeapEntry> heap_;     ///< 4-ary min-heap on (due, seq)
    std::uint64_t timer_seq_ = 0;     ///< arming order, breaks ties between equal deadlines
    std::vector<Task> ready_;         ///< resumptions for the next ready phase
    std::vector<Task> ready_spare_;   ///< an empty buffer with capacity, reused by run_ready
    std::mutex post_mutex_;           ///< guards posted_
    std::atomic<bool> posted_flag_{false};  ///< posted_ may be non-empty (skips the lock when not)
    int watched_fds_ = 0;             ///< fds with non-zero epoll interest (besides the wakeup fd)
    std::vector<Task> posted_;        ///< work from other threads
    std::vector<Task> posted_spare_;  ///< an empty buffer with capacity, reused by run_posted
    std::vector<FdEntry> fds_;        ///< watchers by fd
    ActiveNode active_{&active_, &active_};  ///< running coroutines (circular list)
    std::vector<std::function<void()>> shutdown_hooks_;
    bool signals_installed_ = false;  ///< between install_ and restore_signal_handlers()
    bool sigint_installed_ = false;   ///< SIGINT was ours too
    struct sigaction old_sigint_ {};  ///< dispositions to restore
    struct sigaction old_sigterm_ {};
};

}  // namespace kaa::detail
