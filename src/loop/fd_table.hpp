#pragma once
// The epoll fd table: which IoWatcher watches which fd in which direction, and the epoll
// interest that follows from it (private to src/loop/).
//
// Each fd's epoll registration carries (generation << 32 | fd); the generation is bumped on
// every EPOLL_CTL_ADD, so events of an fd that was closed and re-added while a batch was being
// dispatched are dropped instead of reaching the new watcher.
//
// Threads: loop-thread only.

#include <kaa/detail/loop.hpp>

#include <sys/epoll.h>

#include <cstdint>
#include <vector>

namespace kaa::detail {

class FdTable {
public:
    /// The epoll token of the loop's wakeup eventfd; dispatch() skips it.
    static constexpr std::uint64_t kWakeToken = ~std::uint64_t{0};

    /// A table over the epoll instance `epfd` (not owned).
    explicit FdTable(int epfd) noexcept : epfd_(epfd) {}

    /// See detail::io_register(): starts watching `fd` in one direction with `w`, moving `w`
    /// if it watched something else; on failure nothing changed.
    void add(IoWatcher* w, int fd, bool write);
    /// See detail::io_unregister(): stops watching; idempotent, safe after the fd was closed.
    void remove(IoWatcher* w) noexcept;
    /// Phase 6: calls the watchers of the ready fds in `events` — read watcher first, then
    /// write watcher — looking each up again before its call (an earlier callback may have
    /// removed it, or closed the fd and added another one).
    void dispatch(const epoll_event* events, int n);
    /// Number of fds with non-zero epoll interest: when 0, an iteration that must not sleep
    /// can skip epoll_wait altogether.
    int watched() const noexcept { return watched_; }

private:
    struct Entry {
        IoWatcher* read = nullptr;
        IoWatcher* write = nullptr;
        std::uint32_t events = 0;      ///< what epoll currently watches (0: not in the set)
        std::uint32_t generation = 0;  ///< bumped on each ADD: events of older ADDs are dropped
    };

    /// Brings epoll's interest for `fd` in line with its watchers. Throws std::system_error if
    /// epoll refuses.
    void update(int fd);

    int epfd_;                ///< the loop's epoll instance
    int watched_ = 0;         ///< fds with non-zero epoll interest
    std::vector<Entry> fds_;  ///< watchers by fd
};

}  // namespace kaa::detail
