// IOMonitor: an IoWatcher with a bound callback, kaa's register/unregister rules and
// cross-thread marshalling.
//
// Threads: the core's IoWatcher part and callback are loop-thread only; is_active and closed
// are atomics read from any thread.

#include <kaa/detail/loop.hpp>
#include <kaa/errors.hpp>
#include <kaa/io.hpp>

#include <stdexcept>
#include <string>

namespace kaa {

namespace detail {

namespace {
/// An IOMonitor in a stall report: its fd and its callback's type.
std::string monitor_name(const IoWatcher* w) {
    const auto* core = static_cast<const IoMonitorCore*>(w);
    return "the callback of an IOMonitor on fd " + std::to_string(w->fd) + ": " +
           demangle(core->callback.target_type().name());
}
}  // namespace

IoMonitorCore::IoMonitorCore() {
    static const bool named = (name_watchers(&IoMonitorCore::on_ready, &monitor_name), true);
    (void)named;
    ready = &IoMonitorCore::on_ready;
}

void IoMonitorCore::do_register(int new_fd, IOCondition cond) {
    if (cond != IO_READ && cond != IO_WRITE) {
        throw std::invalid_argument("kaa: IOMonitor condition must be IO_READ or IO_WRITE");
    }
    const bool new_write = cond == IO_WRITE;
    if (registered) {
        if (fd == new_fd && write == new_write) return;
        throw std::invalid_argument(
            "Existing file descriptor already registered with this IOMonitor.");
    }
    io_register(this, new_fd, new_write);
    is_active.store(true);
}

void IoMonitorCore::do_unregister() noexcept {
    io_unregister(this);
    is_active.store(false);
}

void IoMonitorCore::on_ready(IoWatcher* w) {
    auto* core = static_cast<IoMonitorCore*>(w);
    // The callback may destroy the IOMonitor (and with it the last handle).
    std::shared_ptr<IoMonitorCore> keep = core->shared_from_this();
    if (core->closed.load() || (core->alive && !core->alive())) {
        core->do_unregister();
        return;
    }
    // kaa's NotifierCallback: an explicit false unregisters whatever is registered then.
    if (!core->callback()) core->do_unregister();
}

}  // namespace detail

namespace {

// Runs `action(core)` on the loop thread: now, or posted (errors reported, not thrown).
template <class Action>
void on_loop(const std::shared_ptr<detail::IoMonitorCore>& core, const char* what, Action action) {
    if (detail::on_loop_thread()) {
        action(*core);
        return;
    }
    detail::post_to_loop([core, what, action]() mutable {
        try {
            action(*core);
        } catch (...) {
            report_exception(std::current_exception(), what);
        }
    });
}

}  // namespace

IOMonitor& IOMonitor::operator=(IOMonitor&& other) noexcept {
    if (this != &other) {
        IOMonitor old(std::move(*this));  // unregisters when it goes out of scope
        core_ = std::move(other.core_);
    }
    return *this;
}

IOMonitor::~IOMonitor() {
    if (!core_) return;
    core_->closed.store(true);
    if (detail::on_loop_thread()) {
        core_->do_unregister();
    } else {
        detail::post_to_loop([core = core_] { core->do_unregister(); });
    }
}

void IOMonitor::register_fd(int fd, IOCondition cond) {
    if (!core_) throw std::logic_error("kaa: IOMonitor used after being moved from");
    on_loop(core_, "Exception in IOMonitor::register_fd posted from another thread",
            [fd, cond](detail::IoMonitorCore& c) { c.do_register(fd, cond); });
}

void IOMonitor::unregister() {
    if (!core_) return;
    on_loop(core_, "Exception in IOMonitor::unregister posted from another thread",
            [](detail::IoMonitorCore& c) { c.do_unregister(); });
}

bool IOMonitor::active() const noexcept {
    return core_ && core_->is_active.load() && (!core_->alive || core_->alive());
}

int IOMonitor::fd() const noexcept { return core_ && core_->registered ? core_->fd : -1; }

IOCondition IOMonitor::condition() const noexcept {
    return core_ && core_->write ? IO_WRITE : IO_READ;
}

}  // namespace kaa
