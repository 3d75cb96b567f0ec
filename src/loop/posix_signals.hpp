#pragma once
// SIGINT and SIGTERM while main::run() runs: an async-signal-safe handler records the signal
// and wakes the loop through its eventfd; phase 3 of the next iteration turns it into a
// kaa::SystemExit (private to src/loop/).
//
// Threads: the handler may run on any thread at any time; the rest is loop-thread only.

#include <signal.h>

#include <atomic>

namespace kaa::detail {

class PosixSignals {
public:
    /// The eventfd the handler writes to, so a sleeping loop wakes up (set once by the loop).
    static void set_wake_fd(int fd) noexcept;

    /// Whether a signal arrived and was not taken yet: a plain load, cheap enough for every
    /// iteration.
    static bool pending() noexcept { return pending_.load(std::memory_order_relaxed) != 0; }
    /// Takes the pending signal (SIGINT or SIGTERM), or 0.
    static int take() noexcept { return pending_.exchange(0, std::memory_order_relaxed); }

    /// Installs the handler for SIGTERM, and for SIGINT if SIGINT has its default disposition
    /// (kaa only replaced Python's default); drops a signal left from an earlier run.
    void install();
    /// Puts back the dispositions install() replaced, and drops a signal that arrived but was
    /// not taken yet (it asked for what is happening anyway). Idempotent.
    void restore() noexcept;

private:
    static void handler(int sig) noexcept;

    static std::atomic<int> pending_;  ///< the signal caught, or 0
    static int wake_fd_;               ///< written by the handler (-1: none yet)
    bool installed_ = false;           ///< between install() and restore()
    bool sigint_installed_ = false;    ///< SIGINT was ours too
    struct sigaction old_sigint_ {};   ///< dispositions to restore
    struct sigaction old_sigterm_ {};
};

}  // namespace kaa::detail
