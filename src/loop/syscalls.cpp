// The system-call table of detail/syscalls.hpp: libc's calls, replaceable by tests.

#include <kaa/detail/syscalls.hpp>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace kaa::detail {

namespace {
// libc's own entry points: a call through the table costs one load and one indirect call.
constexpr Syscalls kReal{&::read,    &::write,      &::send,   &::accept4,
                         &::connect, &::epoll_wait, &::waitpid};
}  // namespace

constinit Syscalls g_syscalls = kReal;

const Syscalls& real_syscalls() noexcept { return kReal; }

Syscalls replace_syscalls(const Syscalls& table) noexcept {
    const Syscalls old = g_syscalls;
    g_syscalls = table;
    return old;
}

}  // namespace kaa::detail
