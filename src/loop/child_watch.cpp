// Child reaping through SIGCHLD (child_watch.hpp). docs/semantics.md [loop.child].

#include "loop/child_watch.hpp"

#include <kaa/detail/loop.hpp>
#include <kaa/detail/syscalls.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace kaa::detail {

std::atomic<bool> ChildWatch::pending_{false};
int ChildWatch::wake_fd_ = -1;
struct sigaction ChildWatch::previous_ {};

// Async-signal-safe: an atomic store, a write(2) to the eventfd, the chained handler; errno is
// preserved.
void ChildWatch::handler(int sig, siginfo_t* info, void* context) noexcept {
    const int saved_errno = errno;
    pending_.store(true, std::memory_order_relaxed);
    if (wake_fd_ >= 0) {
        std::uint64_t one = 1;
        ssize_t r = ::write(wake_fd_, &one, sizeof one);
        (void)r;
    }
    errno = saved_errno;
    if (previous_.sa_flags & SA_SIGINFO) {
        if (previous_.sa_sigaction != nullptr) previous_.sa_sigaction(sig, info, context);
    } else if (previous_.sa_handler != SIG_DFL && previous_.sa_handler != SIG_IGN &&
               previous_.sa_handler != nullptr) {
        previous_.sa_handler(sig);
    }
}

void ChildWatch::install() {
    if (installed_) return;
    struct sigaction sa {};
    sa.sa_sigaction = &ChildWatch::handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP;
    // The previous disposition is stored before the handler can run (it reads previous_).
    struct sigaction old {};
    if (::sigaction(SIGCHLD, nullptr, &old) != 0) return;
    // Never chain to ourselves (a second Loop cannot exist, but be safe).
    if (!((old.sa_flags & SA_SIGINFO) && old.sa_sigaction == &ChildWatch::handler)) previous_ = old;
    if (::sigaction(SIGCHLD, &sa, nullptr) == 0) installed_ = true;
}

void ChildWatch::watch(pid_t pid, std::function<void(int)> callback) {
    install();
    watched_[pid] = std::move(callback);
    // The child may have exited before the watch (its SIGCHLD then found nothing to reap):
    // poll once in the next iteration.
    pending_.store(true, std::memory_order_relaxed);
    loop_wakeup();
}

bool ChildWatch::unwatch(pid_t pid) noexcept { return watched_.erase(pid) != 0; }

void ChildWatch::collect() {
    for (auto it = watched_.begin(); it != watched_.end();) {
        int status = 0;
        pid_t r;
        do {
            r = sys().waitpid(it->first, &status, WNOHANG);
        } while (r < 0 && errno == EINTR);
        if (r == 0 || (r < 0 && errno != ECHILD)) {
            ++it;  // still running (or an error that cannot be ours: try again next time)
            continue;
        }
        if (r < 0) status = kChildLost;
        reaped_.emplace_back([cb = std::move(it->second), status]() mutable { cb(status); });
        it = watched_.erase(it);
    }
}

}  // namespace kaa::detail
