// The main loop: an epoll reactor, a 4-ary timer heap, the ready queue, the cross-thread
// queue (eventfd wakeup), POSIX SIGINT/SIGTERM, and the loop's phases.
//
// One iteration (step_once), phase by phase — docs/loop.md numbers them the same way:
//   1. read the clock; compute the sleep: 0 if work is ready, else until the next timer,
//      else 30 s (kaa's idle step)
//   2. epoll_wait — the only blocking call
//   3. read the clock again; deliver a pending SIGINT/SIGTERM as kaa::SystemExit
//   4. timers: pop every due timer in (deadline, arming order), then fire them one by one,
//      skipping any cancelled or re-armed by an earlier callback of this batch
//   5. I/O: for each ready fd, look the watcher up again (an earlier callback may have
//      unregistered it) and call it
//   6. posted work from other threads (swapped out under the mutex, run without it)
//   7. the ready queue (NotFinished resumptions) as it was when the phase began
// An exception escaping a callback leaves the phase; the unprocessed rest of that phase is put
// back so nothing is lost, and the exception goes to the caller (main::loop delivers it to the
// `exception` signal).

#include "loop_impl.hpp"

#include <kaa/detail/loop.hpp>
#include <kaa/errors.hpp>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <system_error>

namespace kaa::detail {

thread_local int inline_depth = 0;

namespace {

// ---------------------------------------------------------------- loop thread identity

std::atomic<std::thread::id> g_loop_thread{};

// ---------------------------------------------------------------- blocked threads

std::mutex g_block_mutex;
std::condition_variable g_block_cv;
std::atomic<int> g_blocked{0};
std::atomic<bool> g_ever_blocked{false};

// ---------------------------------------------------------------- POSIX signals

std::atomic<int> g_pending_signal{0};
int g_signal_wake_fd = -1;

extern "C" void kaa_signal_handler(int sig) {
    g_pending_signal.store(sig, std::memory_order_relaxed);
    if (g_signal_wake_fd >= 0) {
        std::uint64_t one = 1;
        ssize_t r = ::write(g_signal_wake_fd, &one, sizeof one);
        (void)r;
    }
}

// ---------------------------------------------------------------- deferred inline resumptions

thread_local std::deque<Task>* t_deferred = nullptr;

constexpr std::size_t kFiring = static_cast<std::size_t>(-2);

}  // namespace

// ---------------------------------------------------------------- Loop

Loop& Loop::instance() {
    static Loop* loop = new Loop();  // never destroyed: frames and timers may outlive main()
    return *loop;
}

Loop::Loop() {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) throw std::system_error(errno, std::generic_category(), "kaa: epoll_create1");
    wakefd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wakefd_ < 0) throw std::system_error(errno, std::generic_category(), "kaa: eventfd");
    g_signal_wake_fd = wakefd_;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeToken;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev) < 0) {
        throw std::system_error(errno, std::generic_category(), "kaa: epoll_ctl(eventfd)");
    }
    now_ = Clock::now();
    claim_thread_if_unset();
}

void Loop::claim_thread_if_unset() noexcept {
    std::thread::id none{};
    g_loop_thread.compare_exchange_strong(none, std::this_thread::get_id());
}

void Loop::set_loop_thread() noexcept { g_loop_thread.store(std::this_thread::get_id()); }

// ---------------------------------------------------------------- timers (4-ary heap)

namespace {
inline bool earlier(const TimerNode* a, const TimerNode* b) {
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}
}  // namespace

void Loop::heap_place(std::size_t i, TimerNode* n) {
    heap_[i] = n;
    n->heap_index = i;
}

void Loop::sift_up(std::size_t i) {
    TimerNode* n = heap_[i];
    while (i > 0) {
        std::size_t parent = (i - 1) / 4;
        if (!earlier(n, heap_[parent])) break;
        heap_place(i, heap_[parent]);
        i = parent;
    }
    heap_place(i, n);
}

void Loop::sift_down(std::size_t i) {
    TimerNode* n = heap_[i];
    const std::size_t size = heap_.size();
    for (;;) {
        std::size_t first = 4 * i + 1;
        if (first >= size) break;
        std::size_t best = first;
        std::size_t last = std::min(first + 4, size);
        for (std::size_t c = first + 1; c < last; ++c) {
            if (earlier(heap_[c], heap_[best])) best = c;
        }
        if (!earlier(heap_[best], n)) break;
        heap_place(i, heap_[best]);
        i = best;
    }
    heap_place(i, n);
}

void Loop::heap_remove(TimerNode* n) {
    std::size_t i = n->heap_index;
    TimerNode* last = heap_.back();
    heap_.pop_back();
    n->heap_index = TimerNode::npos;
    if (last == n) return;
    heap_place(i, last);
    if (i > 0 && earlier(last, heap_[(i - 1) / 4])) {
        sift_up(i);
    } else {
        sift_down(i);
    }
}

void Loop::arm(TimerNode* n, Clock::time_point due) {
    if (n->heap_index == kFiring) forget_firing(n);
    if (n->armed()) heap_remove(n);
    n->due = due;
    n->seq = ++timer_seq_;
    heap_.push_back(n);
    sift_up(heap_.size() - 1);
}

void Loop::cancel(TimerNode* n) noexcept {
    if (n->heap_index == kFiring) {
        forget_firing(n);
        n->heap_index = TimerNode::npos;
    } else if (n->armed()) {
        heap_remove(n);
    }
}

void Loop::forget_firing(TimerNode* n) noexcept {
    for (auto& f : firing_) {
        if (f == n) f = nullptr;
    }
    n->heap_index = TimerNode::npos;
}

void Loop::run_timers() {
    if (heap_.empty() || heap_.front()->due > now_) return;
    // Collect first: a callback may arm a timer due now (interval 0), which then waits for
    // the next iteration instead of firing forever in this one.
    firing_.clear();
    while (!heap_.empty() && heap_.front()->due <= now_) {
        TimerNode* n = heap_.front();
        heap_remove(n);
        n->heap_index = kFiring;
        firing_.push_back(n);
    }
    std::size_t i = 0;
    try {
        for (; i < firing_.size(); ++i) {
            TimerNode* n = firing_[i];
            if (!n || n->heap_index != kFiring) continue;
            n->heap_index = TimerNode::npos;
            firing_[i] = nullptr;
            n->fire(n);
        }
    } catch (...) {
        // Put the rest back: they fire in the next iteration.
        for (++i; i < firing_.size(); ++i) {
            TimerNode* n = firing_[i];
            if (n && n->heap_index == kFiring) {
                n->heap_index = TimerNode::npos;
                heap_.push_back(n);
                sift_up(heap_.size() - 1);
            }
        }
        firing_.clear();
        throw;
    }
    firing_.clear();
}

// ---------------------------------------------------------------- I/O watchers

void Loop::io_register(IoWatcher* w, int fd, bool write) {
    if (fd < 0) throw std::invalid_argument("kaa: cannot watch a negative file descriptor");
    if (static_cast<std::size_t>(fd) >= fds_.size()) fds_.resize(static_cast<std::size_t>(fd) + 1);
    FdEntry& e = fds_[static_cast<std::size_t>(fd)];
    IoWatcher*& slot = write ? e.write : e.read;
    if (slot && slot != w) {
        throw std::invalid_argument("kaa: another watcher already watches this fd and direction");
    }
    slot = w;
    w->fd = fd;
    w->write = write;
    w->registered = true;
    update_fd(fd);
}

void Loop::io_unregister(IoWatcher* w) noexcept {
    if (!w->registered) return;
    w->registered = false;
    int fd = w->fd;
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return;
    FdEntry& e = fds_[static_cast<std::size_t>(fd)];
    if (e.read == w) e.read = nullptr;
    if (e.write == w) e.write = nullptr;
    try {
        update_fd(fd);
    } catch (...) {
        // The fd was closed before unregistering: the kernel already forgot it.
    }
}

void Loop::update_fd(int fd) {
    FdEntry& e = fds_[static_cast<std::size_t>(fd)];
    std::uint32_t want = (e.read ? EPOLLIN | EPOLLRDHUP : 0u) | (e.write ? EPOLLOUT : 0u);
    if (want == e.events) return;
    epoll_event ev{};
    ev.events = want;
    int op;
    if (want == 0) {
        op = EPOLL_CTL_DEL;
    } else if (e.events == 0) {
        op = EPOLL_CTL_ADD;
        ++e.generation;
    } else {
        op = EPOLL_CTL_MOD;
    }
    ev.data.u64 = (static_cast<std::uint64_t>(e.generation) << 32) | static_cast<std::uint32_t>(fd);
    if (::epoll_ctl(epfd_, op, fd, &ev) < 0) {
        int err = errno;
        if (op == EPOLL_CTL_DEL && (err == EBADF || err == ENOENT)) {
            e.events = 0;
            return;
        }
        if (op == EPOLL_CTL_ADD && err == EEXIST) {
            // The fd was closed and reused while we still thought it registered.
            if (::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0) {
                e.events = want;
                return;
            }
            err = errno;
        }
        if (op != EPOLL_CTL_DEL) {
            throw std::system_error(err, std::generic_category(), "kaa: epoll_ctl (watch fd)");
        }
    }
    e.events = want;
}

void Loop::run_io(int nevents) {
    for (int i = 0; i < nevents; ++i) {
        const epoll_event ev = events_[static_cast<std::size_t>(i)];
        if (ev.data.u64 == kWakeToken) {
            std::uint64_t value;
            while (::read(wakefd_, &value, sizeof value) > 0) {
            }
            continue;
        }
        int fd = static_cast<int>(ev.data.u64 & 0xffffffffu);
        auto gen = static_cast<std::uint32_t>(ev.data.u64 >> 32);
        if (static_cast<std::size_t>(fd) >= fds_.size()) continue;
        // Re-check before each call: an earlier callback may have unregistered the watcher.
        const bool readable = ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
        const bool writable = ev.events & (EPOLLOUT | EPOLLHUP | EPOLLERR);
        if (readable) {
            FdEntry& e = fds_[static_cast<std::size_t>(fd)];
            if (e.generation == gen && e.read) e.read->ready(e.read);
        }
        if (writable) {
            FdEntry& e = fds_[static_cast<std::size_t>(fd)];
            if (e.generation == gen && e.write) e.write->ready(e.write);
        }
    }
}

// ---------------------------------------------------------------- queues

void Loop::post(Task t) {
    bool was_empty;
    {
        std::lock_guard lock(post_mutex_);
        was_empty = posted_.empty();
        posted_.push_back(std::move(t));
    }
    if (was_empty) wakeup();
}

void Loop::wakeup() noexcept {
    std::uint64_t one = 1;
    ssize_t r = ::write(wakefd_, &one, sizeof one);
    (void)r;
}

bool Loop::has_posted() {
    std::lock_guard lock(post_mutex_);
    return !posted_.empty();
}

void Loop::run_posted() {
    {
        std::lock_guard lock(post_mutex_);
        if (posted_.empty()) return;
        std::swap(posted_, posted_running_);
    }
    std::size_t i = 0;
    try {
        for (; i < posted_running_.size(); ++i) {
            Task t = std::move(posted_running_[i]);
            t();
        }
    } catch (...) {
        std::vector<Task> rest;
        for (++i; i < posted_running_.size(); ++i) rest.push_back(std::move(posted_running_[i]));
        posted_running_.clear();
        std::lock_guard lock(post_mutex_);
        for (auto& t : posted_) rest.push_back(std::move(t));
        posted_ = std::move(rest);
        throw;
    }
    posted_running_.clear();
}

void Loop::schedule(Task t) { ready_.push_back(std::move(t)); }

void Loop::run_ready() {
    if (ready_.empty()) return;
    std::swap(ready_, ready_running_);
    std::size_t i = 0;
    try {
        for (; i < ready_running_.size(); ++i) {
            Task t = std::move(ready_running_[i]);
            t();
        }
    } catch (...) {
        std::vector<Task> rest;
        for (++i; i < ready_running_.size(); ++i) rest.push_back(std::move(ready_running_[i]));
        for (auto& t : ready_) rest.push_back(std::move(t));
        ready_ = std::move(rest);
        ready_running_.clear();
        throw;
    }
    ready_running_.clear();
}

// ---------------------------------------------------------------- one iteration

void Loop::step_once(bool may_block) {
    // 1. clock and sleep time
    now_ = Clock::now();
    int timeout_ms = 0;
    if (may_block && ready_.empty() && !has_posted() &&
        g_pending_signal.load(std::memory_order_relaxed) == 0) {
        if (!heap_.empty()) {
            auto wait = heap_.front()->due - now_;
            if (wait > Duration::zero()) {
                auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
                timeout_ms = static_cast<int>(std::min<std::int64_t>(ms, kIdleSleepMs));
            }
        } else {
            timeout_ms = kIdleSleepMs;
        }
    }
    // 2. wait for I/O
    if (events_.empty()) events_.resize(256);
    int n = ::epoll_wait(epfd_, events_.data(), static_cast<int>(events_.size()), timeout_ms);
    if (n < 0) {
        if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "kaa: epoll_wait");
        n = 0;
    }
    // 3. clock again; POSIX signals
    now_ = Clock::now();
    if (int sig = g_pending_signal.exchange(0, std::memory_order_relaxed)) {
        throw SystemExit(sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    // 4. timers
    run_timers();
    // 5. I/O
    run_io(n);
    // 6. work posted from other threads
    run_posted();
    // 7. ready queue
    run_ready();
}

void Loop::install_signal_handlers() {
    if (signals_installed_) return;
    signals_installed_ = true;
    struct sigaction sa {};
    sa.sa_handler = kaa_signal_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    struct sigaction old {};
    // SIGINT only if nobody installed a handler (kaa: only over Python's default).
    if (::sigaction(SIGINT, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
        ::sigaction(SIGINT, &sa, nullptr);
    }
    ::sigaction(SIGTERM, &sa, nullptr);
}

// ---------------------------------------------------------------- active coroutines

void Loop::shutdown_active() {
    // Each shutdown() unwinds one frame, which may start or end others: take from the head
    // until the list is empty (bounded by a pass limit against frames that refuse to die).
    for (int pass = 0; pass < 1000 && active_.next != &active_; ++pass) {
        ActiveNode* n = active_.next;
        unregister_active(n);
        n->shutdown(n);
    }
}

// ---------------------------------------------------------------- free functions (detail API)

bool on_loop_thread() noexcept {
    std::thread::id id = g_loop_thread.load(std::memory_order_relaxed);
    if (id == std::thread::id{}) {
        Loop::instance();
        id = g_loop_thread.load(std::memory_order_relaxed);
    }
    return id == std::this_thread::get_id();
}

void post_to_loop(Task task) { Loop::instance().post(std::move(task)); }
void loop_wakeup() noexcept { Loop::instance().wakeup(); }

void timer_arm(TimerNode* node, Clock::time_point due) { Loop::instance().arm(node, due); }
void timer_cancel(TimerNode* node) noexcept { Loop::instance().cancel(node); }
Clock::time_point loop_now() noexcept { return Loop::instance().now(); }
Clock::time_point refresh_now() noexcept { return Loop::instance().refresh_now(); }
void schedule_ready(Task task) { Loop::instance().schedule(std::move(task)); }

void defer_inline(Task task) {
    if (!t_deferred) t_deferred = new std::deque<Task>();  // per thread, lives for the thread
    t_deferred->push_back(std::move(task));
}

void drain_inline() noexcept {
    if (!t_deferred) return;
    while (!t_deferred->empty()) {
        Task t = std::move(t_deferred->front());
        t_deferred->pop_front();
        ++inline_depth;
        try {
            t();
        } catch (...) {
            report_exception(std::current_exception(), "Exception in deferred resumption");
        }
        --inline_depth;
    }
}

void io_register(IoWatcher* w, int fd, bool write) { Loop::instance().io_register(w, fd, write); }
void io_unregister(IoWatcher* w) noexcept { Loop::instance().io_unregister(w); }

void register_active(ActiveNode* n) noexcept {
    ActiveNode& head = Loop::instance().active_head();
    n->next = head.next;
    n->prev = &head;
    head.next->prev = n;
    head.next = n;
}

void unregister_active(ActiveNode* n) noexcept {
    if (!n->prev) return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = nullptr;
}

void add_shutdown_hook(std::function<void()> hook) {
    Loop::instance().shutdown_hooks().push_back(std::move(hook));
}

bool block_until(const std::function<bool()>& finished, std::optional<Duration> timeout) {
    g_ever_blocked.store(true);
    std::unique_lock lock(g_block_mutex);
    g_blocked.fetch_add(1);
    const auto deadline = timeout ? Clock::now() + *timeout : Clock::time_point::max();
    // Sliced waits are a safety net for the one race notify_blocked_threads() cannot close
    // without a fence on every completion: the very first blocker of the process.
    while (!finished()) {
        auto slice = Clock::now() + std::chrono::milliseconds(10);
        if (slice > deadline) slice = deadline;
        g_block_cv.wait_until(lock, slice);
        if (Clock::now() >= deadline) break;
    }
    g_blocked.fetch_sub(1);
    return finished();
}

void notify_blocked_threads() noexcept {
    if (!g_ever_blocked.load(std::memory_order_relaxed)) return;
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (g_blocked.load() == 0) return;
    std::lock_guard lock(g_block_mutex);
    g_block_cv.notify_all();
}

}  // namespace kaa::detail
