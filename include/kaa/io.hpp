#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// IOMonitor and WeakIOMonitor: call a function whenever a file descriptor is readable (or
// writable), kaa's io.IOMonitor (docs/semantics.md [io.monitor]).
//
// The callback gets only its bound arguments (never the fd). Returning exactly `false`
// unregisters the monitor; void or any other value keeps it. Readiness is level-triggered: the
// callback runs in every loop iteration (I/O phase, after timers) while the fd stays ready, so
// it must consume the data or unregister. Errors and hang-ups count as ready. An exception from
// the callback goes to main::signals().exception; the monitor stays registered.
//
// Lifetime: an IOMonitor owns its registration (RAII): destroying it unregisters. It does not
// own the fd: unregister (or destroy the monitor) before closing the fd, although closing first
// is tolerated. The callback and its bound arguments live as long as the monitor, or until a
// call posted from another thread has run. A WeakIOMonitor also stops, without a call, once its
// owner (a std::weak_ptr) died.
//
// Threads: register_fd(), unregister() and the destructor may be called from any thread; off
// the loop thread they are posted to it (then errors are reported through report_exception()
// instead of thrown, and a call that already started on the loop thread may still be running
// when the destructor returns, but none starts afterwards). active() may be read from any
// thread. The callback always runs on the loop thread.

#include <kaa/detail/callback.hpp>
#include <kaa/detail/loop.hpp>

#include <atomic>
#include <concepts>
#include <functional>
#include <memory>
#include <type_traits>

namespace kaa {

/// What an IOMonitor waits for (kaa's values; kaa's IO_EXCEPT is not supported).
enum IOCondition : int {
    IO_READ = 1,   ///< readable (or at EOF, hang-up or error)
    IO_WRITE = 2,  ///< writable (or hang-up or error)
};

namespace detail {

/// The shared state of an IOMonitor (shared with calls posted from other threads).
struct IoMonitorCore : IoWatcher, std::enable_shared_from_this<IoMonitorCore> {
    std::function<bool()> callback;      ///< the bound user callback; false = unregister
    std::function<bool()> alive;         ///< weak monitors: whether the owner still lives
    std::atomic<bool> is_active{false};  ///< mirror of `registered` for other threads
    std::atomic<bool> closed{false};     ///< the owning IOMonitor was destroyed

    IoMonitorCore();
    /// Registers (loop thread). Same fd and condition again: no-op; different while registered:
    /// std::invalid_argument. Throws what io_register() throws.
    void do_register(int fd, IOCondition cond);
    /// Unregisters (loop thread); idempotent.
    void do_unregister() noexcept;
    /// The IoWatcher::ready action.
    static void on_ready(IoWatcher* w);
};

}  // namespace detail

/// Calls `f(bound...)` on the loop thread whenever the registered fd is ready. See the file
/// comment for lifetime and threads. Move-only.
class IOMonitor {
public:
    /// An unregistered monitor calling `f(bound...)`.
    template <class F, class... Bound>
        requires(!std::derived_from<std::decay_t<F>, IOMonitor>)
    explicit IOMonitor(F f, Bound... bound) : IOMonitor() {
        core_->callback = detail::bind_loop_callback(std::move(f), std::move(bound)...);
    }
    /// Takes over `other`'s registration and callback; `other` becomes inactive.
    IOMonitor(IOMonitor&& other) noexcept = default;
    /// Unregisters this monitor, then takes over `other`'s registration and callback.
    IOMonitor& operator=(IOMonitor&& other) noexcept;
    IOMonitor(const IOMonitor&) = delete;
    IOMonitor& operator=(const IOMonitor&) = delete;
    /// Unregisters (posted if called off the loop thread); no call starts afterwards.
    ~IOMonitor();

    /// Starts watching `fd` for `cond` (IO_READ or IO_WRITE). Registering the same fd and
    /// condition again is a no-op; a different one while active throws std::invalid_argument
    /// ("Existing file descriptor already registered with this IOMonitor."), as does an invalid
    /// condition, a negative fd, or an fd and condition another monitor already watches. Throws
    /// std::system_error if epoll refuses the fd (a regular file, a closed fd). Off the loop
    /// thread it is posted, and failures are reported instead.
    void register_fd(int fd, IOCondition cond = IO_READ);
    /// Stops watching; idempotent. Off the loop thread it is posted.
    void unregister();
    /// Whether it is registered (and, for a WeakIOMonitor, its owner alive). Any thread.
    bool active() const noexcept;
    /// The registered fd, or -1 when not registered. Loop thread.
    int fd() const noexcept;
    /// The registered condition (IO_READ when never registered). Loop thread.
    IOCondition condition() const noexcept;

protected:
    IOMonitor() : core_(std::make_shared<detail::IoMonitorCore>()) {}
    std::shared_ptr<detail::IoMonitorCore> core_;  ///< null only after being moved from
};

/// An IOMonitor bound to an owner: while the owner lives it calls `f(bound...)` (or, for a
/// member function pointer, `(owner->*f)(bound...)`); once the owner died it unregisters at the
/// next readiness without calling anything, and active() is false at once.
class WeakIOMonitor : public IOMonitor {
public:
    /// An unregistered monitor calling `f(bound...)` or `(owner->*f)(bound...)`.
    template <class O, class F, class... Bound>
    WeakIOMonitor(std::weak_ptr<O> owner, F f, Bound... bound) : IOMonitor() {
        core_->alive = [owner] { return !owner.expired(); };
        core_->callback = detail::bind_weak_loop_callback(std::move(owner), std::move(f),
                                                          std::move(bound)...);
    }
};

}  // namespace kaa

#pragma GCC visibility pop
