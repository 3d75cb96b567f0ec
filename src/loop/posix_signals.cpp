// SIGINT/SIGTERM handling for main::run() (posix_signals.hpp).

#include "loop/posix_signals.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace kaa::detail {

std::atomic<int> PosixSignals::pending_{0};
int PosixSignals::wake_fd_ = -1;

void PosixSignals::set_wake_fd(int fd) noexcept { wake_fd_ = fd; }

// Async-signal-safe: an atomic store and a write(2) to the eventfd; errno is preserved.
void PosixSignals::handler(int sig) noexcept {
    const int saved_errno = errno;
    pending_.store(sig, std::memory_order_relaxed);
    if (wake_fd_ >= 0) {
        std::uint64_t one = 1;
        ssize_t r = ::write(wake_fd_, &one, sizeof one);
        (void)r;
    }
    errno = saved_errno;
}

void PosixSignals::install() {
    if (installed_) return;
    pending_.store(0, std::memory_order_relaxed);
    struct sigaction sa {};
    sa.sa_handler = &PosixSignals::handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    // SIGINT only if nobody installed a handler (kaa: only over Python's default).
    sigint_installed_ = false;
    if (::sigaction(SIGINT, nullptr, &old_sigint_) == 0 && old_sigint_.sa_handler == SIG_DFL) {
        sigint_installed_ = ::sigaction(SIGINT, &sa, nullptr) == 0;
    }
    ::sigaction(SIGTERM, &sa, &old_sigterm_);
    installed_ = true;
}

void PosixSignals::restore() noexcept {
    if (!installed_) return;
    installed_ = false;
    if (sigint_installed_) ::sigaction(SIGINT, &old_sigint_, nullptr);
    ::sigaction(SIGTERM, &old_sigterm_, nullptr);
    sigint_installed_ = false;
    pending_.store(0, std::memory_order_relaxed);
}

}  // namespace kaa::detail
