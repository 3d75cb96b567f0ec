// The epoll fd table (fd_table.hpp): registration, epoll interest, dispatch of ready fds.

#include "loop/fd_table.hpp"

#include "loop/stall.hpp"

#include <cerrno>
#include <cstddef>
#include <stdexcept>
#include <system_error>

namespace kaa::detail {

void FdTable::add(IoWatcher* w, int fd, bool write) {
    if (fd < 0) throw std::invalid_argument("kaa: cannot watch a negative file descriptor");
    if (w->registered && w->fd == fd && w->write == write) return;
    if (static_cast<std::size_t>(fd) >= fds_.size()) fds_.resize(static_cast<std::size_t>(fd) + 1);
    IoWatcher* Entry::*slot = write ? &Entry::write : &Entry::read;
    if (fds_[static_cast<std::size_t>(fd)].*slot) {
        throw std::invalid_argument("kaa: another watcher already watches this fd and direction");
    }
    // Moving a registered watcher: take it off its old fd and direction only once the new
    // registration worked, so that a failure changes nothing.
    const bool was_registered = w->registered;
    const int old_fd = w->fd;
    const bool old_write = w->write;
    fds_[static_cast<std::size_t>(fd)].*slot = w;
    try {
        update(fd);
    } catch (...) {
        fds_[static_cast<std::size_t>(fd)].*slot = nullptr;
        throw;
    }
    if (was_registered) {
        Entry& old = fds_[static_cast<std::size_t>(old_fd)];
        (old_write ? old.write : old.read) = nullptr;
        try {
            update(old_fd);
        } catch (...) {
            old.events = 0;
        }
    }
    w->fd = fd;
    w->write = write;
    w->registered = true;
}

void FdTable::remove(IoWatcher* w) noexcept {
    if (!w->registered) return;
    w->registered = false;
    int fd = w->fd;
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return;
    Entry& e = fds_[static_cast<std::size_t>(fd)];
    if (e.read == w) e.read = nullptr;
    if (e.write == w) e.write = nullptr;
    try {
        update(fd);
    } catch (...) {
        // epoll refused the change (the fd was closed or reused): forget our view of it, so the
        // next registration ADDs it again with a new generation.
        e.events = 0;
    }
}

void FdTable::update(int fd) {
    Entry& e = fds_[static_cast<std::size_t>(fd)];
    std::uint32_t want = (e.read ? EPOLLIN | EPOLLRDHUP : 0u) | (e.write ? EPOLLOUT : 0u);
    if (want == e.events) return;
    auto ctl = [&](int op) {
        epoll_event ev{};
        ev.events = want;
        ev.data.u64 = (static_cast<std::uint64_t>(e.generation) << 32) |
                      static_cast<std::uint32_t>(fd);
        return ::epoll_ctl(epfd_, op, fd, &ev) == 0 ? 0 : errno;
    };
    if (want == 0) {
        // Closing an fd removes it from the epoll set by itself: EBADF/ENOENT are fine.
        ctl(EPOLL_CTL_DEL);
        e.events = 0;
        --watched_;
        return;
    }
    int err;
    if (e.events == 0) {
        ++e.generation;
        err = ctl(EPOLL_CTL_ADD);
        // Still in the set although we removed it: an fd whose DEL failed. Take it over.
        if (err == EEXIST) err = ctl(EPOLL_CTL_MOD);
    } else {
        err = ctl(EPOLL_CTL_MOD);
        if (err == ENOENT) {
            // The fd was closed (leaving the set) and its number reused while a watcher was
            // still registered: add the new one under a new generation.
            ++e.generation;
            err = ctl(EPOLL_CTL_ADD);
        }
    }
    if (err != 0)
        throw std::system_error(err, std::generic_category(), "kaa: epoll_ctl (watch fd)");
    if (e.events == 0) ++watched_;
    e.events = want;
}

void FdTable::dispatch(const epoll_event* events, int n) {
    for (int i = 0; i < n; ++i) {
        const epoll_event ev = events[i];
        if (ev.data.u64 == kWakeToken) continue;  // the loop's own eventfd
        const int fd = static_cast<int>(ev.data.u64 & 0xffffffffu);
        const auto gen = static_cast<std::uint32_t>(ev.data.u64 >> 32);
        const bool readable = ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
        const bool writable = ev.events & (EPOLLOUT | EPOLLHUP | EPOLLERR);
        // Look the entry up again before each call (fds_ may have grown, the watcher may be
        // gone, the fd may have been closed and re-added: then the generation differs).
        auto watcher = [&](bool write) -> IoWatcher* {
            if (static_cast<std::size_t>(fd) >= fds_.size()) return nullptr;
            const Entry& e = fds_[static_cast<std::size_t>(fd)];
            if (e.generation != gen || e.events == 0) return nullptr;
            return write ? e.write : e.read;
        };
        if (readable) {
            if (IoWatcher* w = watcher(false)) stall_call([w] { w->ready(w); }, &watcher_name, w);
        }
        if (writable) {
            if (IoWatcher* w = watcher(true)) stall_call([w] { w->ready(w); }, &watcher_name, w);
        }
    }
}

}  // namespace kaa::detail
