#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// The I/O layer's system calls (internal): a table of function pointers, one per call the
// reactor and the I/O layer make that can fail, block or be interrupted (read, write, send,
// accept4, connect, epoll_wait, waitpid). Each defaults to the libc call; a test replaces
// entries to inject faults (EINTR, EMFILE, ENFILE, ECONNRESET, EPIPE, short reads and writes)
// without an LD_PRELOAD shim, so it works under the sanitizers (tests/fault_injection_test.cpp).
// Not routed through it: the loop's own eventfd (non-blocking, never EINTR) and close() (never
// retried: Linux closed the fd anyway).
//
// Cost: a call through the table is one load and one indirect call (predicted: the target
// never changes outside tests), next to a system call.
//
// Threads: the table is read on the loop thread (every call here is made there). Replace it
// only on the loop thread, while no other thread runs a loop (tests do).

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>

struct epoll_event;

namespace kaa::detail {

/// The system calls the reactor and the I/O layer make through detail::sys().
struct Syscalls {
    ssize_t (*read)(int fd, void* buf, std::size_t count);
    ssize_t (*write)(int fd, const void* buf, std::size_t count);
    ssize_t (*send)(int fd, const void* buf, std::size_t count, int flags);
    int (*accept4)(int fd, sockaddr* addr, socklen_t* len, int flags);
    int (*connect)(int fd, const sockaddr* addr, socklen_t len);
    int (*epoll_wait)(int epfd, epoll_event* events, int max, int timeout_ms);
    pid_t (*waitpid)(pid_t pid, int* status, int options);
};

/// The table in use (libc's calls unless a test replaced some).
extern constinit Syscalls g_syscalls;

/// The table in use; call through it: `sys().read(fd, buf, n)`.
inline const Syscalls& sys() noexcept { return g_syscalls; }

/// libc's calls: what g_syscalls holds unless a test replaced entries.
const Syscalls& real_syscalls() noexcept;

/// Installs `table` and returns the previous one (tests; loop thread).
Syscalls replace_syscalls(const Syscalls& table) noexcept;

}  // namespace kaa::detail

#pragma GCC visibility pop
