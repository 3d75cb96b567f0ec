#pragma once
// The Loop object behind kaa::main and kaa/detail/loop.hpp (private to src/).
//
// Threads: loop-thread only, except post() and wakeup().

#include <kaa/detail/callback.hpp>
#include <kaa/detail/loop.hpp>

#include <sys/epoll.h>

#include <atomic>
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

    /// One iteration (see the phases in loop.cpp). may_block=false never sleeps.
    void step_once(bool may_block);

    void arm(TimerNode* n, Clock::time_point due);
    void cancel(TimerNode* n) noexcept;
    Clock::time_point now() const noexcept { return now_; }
    Clock::time_point refresh_now() noexcept { return now_ = Clock::now(); }

    void schedule(Task t);
    void post(Task t);
    void wakeup() noexcept;

    void io_register(IoWatcher* w, int fd, bool write);
    void io_unregister(IoWatcher* w) noexcept;

    void install_signal_handlers();
    ActiveNode& active_head() noexcept { return active_; }
    /// Unwinds every suspended coroutine frame (loop shutdown).
    void shutdown_active();
    std::vector<std::function<void()>>& shutdown_hooks() { return shutdown_hooks_; }

    /// Makes the calling thread the loop thread.
    static void set_loop_thread() noexcept;
    std::size_t timer_count() const noexcept { return heap_.size(); }

    // Run state, owned by main.cpp's facade.
    int depth = 0;                ///< nesting of loop_while() calls
    bool running = false;         ///< a loop_while() is active
    bool in_run = false;          ///< main::run() is active
    bool shutting_down = false;   ///< the shutdown sequence started
    bool stopped = false;         ///< a run() ended (false before the first one)
    bool stop_requested = false;  ///< stop() was called; the outermost loop ends

private:
    Loop();
    static void claim_thread_if_unset() noexcept;

    struct FdEntry {
        IoWatcher* read = nullptr;
        IoWatcher* write = nullptr;
        std::uint32_t events = 0;      ///< what epoll currently watches
        std::uint32_t generation = 0;  ///< bumped on each ADD, to drop stale events
    };
    static constexpr std::uint64_t kWakeToken = ~std::uint64_t{0};
    static constexpr int kIdleSleepMs = 30000;

    void heap_place(std::size_t i, TimerNode* n);
    void sift_up(std::size_t i);
    void sift_down(std::size_t i);
    void heap_remove(TimerNode* n);
    void forget_firing(TimerNode* n) noexcept;
    void run_timers();
    void run_io(int nevents);
    void update_fd(int fd);
    bool has_posted();
    void run_posted();
    void run_ready();

    int epfd_ = -1;                       ///< the epoll instance
    int wakefd_ = -1;                     ///< eventfd: posts and POSIX signals wake the loop
    Clock::time_point now_{};             ///< clock read once per phase boundary
    std::vector<TimerNode*> heap_;        ///< 4-ary min-heap on (due, seq)
    std::vector<TimerNode*> firing_;      ///< due timers of this iteration, not yet fired
    std::uint64_t timer_seq_ = 0;         ///< arming order, breaks ties between equal deadlines
    std::vector<Task> ready_;             ///< resumptions for the next ready phase
    std::vector<Task> ready_running_;     ///< the batch being run
    std::mutex post_mutex_;               ///< guards posted_
    std::vector<Task> posted_;            ///< work from other threads
    std::vector<Task> posted_running_;    ///< the batch being run
    std::vector<FdEntry> fds_;            ///< watchers by fd
    std::vector<epoll_event> events_;     ///< epoll_wait's output buffer
    ActiveNode active_{&active_, &active_, nullptr};  ///< running coroutines (circular list)
    std::vector<std::function<void()>> shutdown_hooks_;
    bool signals_installed_ = false;
};

}  // namespace kaa::detail
