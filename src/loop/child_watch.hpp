#pragma once
// Child reaping for the loop (private to src/loop/): watch_child() registers a pid and a
// callback; an async-signal-safe SIGCHLD handler records that some child changed state and
// wakes the loop through its eventfd; phase 3 of the next iteration calls waitpid(pid, WNOHANG)
// for each watched pid — never waitpid(-1), so children started by other code are left to it —
// and queues the callbacks of the reaped ones for phase 5 of the same iteration.
// docs/semantics.md [loop.child].
//
// The SIGCHLD handler is installed with the first watch and stays installed (a child may exit
// at any time, with or without a running loop). It chains to a handler that was installed
// before (a function, not SIG_DFL/SIG_IGN), so other code that reaps its own children keeps
// working. SA_NOCLDSTOP: stopped and continued children do not wake the loop.
//
// Threads: the handler may run on any thread at any time; the rest is loop-thread only.

#include <kaa/detail/callback.hpp>

#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <functional>
#include <unordered_map>
#include <vector>

namespace kaa::detail {

class ChildWatch {
public:
    /// The eventfd the handler writes to (set once by the loop).
    static void set_wake_fd(int fd) noexcept { wake_fd_ = fd; }

    /// Whether SIGCHLD arrived (or a watch was added) since the last poll(): a plain load.
    static bool pending() noexcept { return pending_.load(std::memory_order_relaxed); }

    /// Watches `pid` (replacing an earlier callback for it); installs the handler if needed.
    /// Marks a poll pending, so a child that exited before the watch is reaped too.
    void watch(pid_t pid, std::function<void(int)> callback);
    /// Stops watching `pid`; true if it was watched.
    bool unwatch(pid_t pid) noexcept;
    /// Number of watched pids.
    std::size_t size() const noexcept { return watched_.size(); }

    /// If pending(): clears the flag, waitpid(WNOHANG)s every watched pid and hands each reaped
    /// child's callback, bound to its wait status, to `schedule`; the pid is no longer watched.
    /// A pid waitpid does not know (ECHILD: someone else reaped it, or SIGCHLD was SIG_IGN
    /// before the handler was installed) is treated the same way with status kChildLost.
    template <class Schedule>
    void poll(Schedule&& schedule) {
        if (!pending_.exchange(false, std::memory_order_relaxed)) return;
        collect();
        for (auto& r : reaped_) schedule(std::move(r));
        reaped_.clear();
    }

private:
    static void handler(int sig, siginfo_t* info, void* context) noexcept;
    void install();
    void collect();

    static std::atomic<bool> pending_;  ///< a SIGCHLD arrived or a watch was added
    static int wake_fd_;                ///< written by the handler (-1: none yet)
    static struct sigaction previous_;  ///< chained to if it is a function
    bool installed_ = false;
    std::unordered_map<pid_t, std::function<void(int)>> watched_;  ///< pid -> callback
    std::vector<Task> reaped_;  ///< callbacks bound to their status, filled by collect()
};

}  // namespace kaa::detail
