// The main loop: an epoll reactor, a 4-ary timer heap, the ready queue, the cross-thread
// queue (eventfd wakeup), POSIX SIGINT/SIGTERM, and the loop's phases.
//
// One iteration (step_once), phase by phase — docs/loop.md numbers them the same way:
//   1. compute the sleep: 0 if work is ready, posted or a signal is pending, else until the
//      next timer, else 30 s (kaa's idle step); read the clock if the loop may sleep or a
//      timer may be due (the coarse clock tells, for a fifth of the cost)
//   2. epoll_wait — the only blocking call (into a buffer on this call's stack: a callback may
//      run a nested loop)
//   3. read the clock again if we may have slept; drain the wakeup eventfd; deliver a pending
//      SIGINT/SIGTERM as kaa::SystemExit (the rest of the iteration is skipped)
//   4. timers: pop and fire, one at a time in (deadline, arming order), every timer that was
//      due at the clock reading of phase 3 and armed before the phase began; a timer armed or
//      re-armed by a callback (interval 0) waits for the next iteration, one cancelled by an
//      earlier callback is simply gone from the heap
//   5. I/O: for each ready fd, look the watcher up again (an earlier callback may have
//      unregistered it, or closed the fd and registered another one: generation check) and
//      call it — read watcher first, then write watcher
//   6. posted work from other threads (swapped out under the mutex, run without it)
//   7. the ready queue (NotFinished resumptions) as it was when the phase began
// An exception escaping a callback leaves the phase and the iteration; nothing is lost: due
// timers stay in the heap, unrun posted and ready tasks are put back in front of newer ones,
// and the fds of this batch are still ready (level-triggered) at the next epoll_wait. The
// exception goes to the caller (main::loop delivers it to the `exception` signal).

#include "loop_impl.hpp"

#include <kaa/detail/loop.hpp>
#include <kaa/errors.hpp>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <stdexcept>
#include <system_error>

namespace kaa::detail {

thread_local int inline_depth = 0;
std::atomic<bool> g_ever_blocked{false};

namespace {

// ---------------------------------------------------------------- loop thread identity

std::atomic<std::thread::id> g_loop_thread{};
std::atomic<Loop*> g_loop{nullptr};

// ---------------------------------------------------------------- blocked threads

std::mutex g_block_mutex;
std::condition_variable g_block_cv;
std::atomic<int> g_blocked{0};

// ---------------------------------------------------------------- POSIX signals

std::atomic<int> g_pending_signal{0};
int g_signal_wake_fd = -1;

// Async-signal-safe: an atomic store and a write(2) to the eventfd; errno is preserved.
extern "C" void kaa_signal_handler(int sig) {
    const int saved_errno = errno;
    g_pending_signal.store(sig, std::memory_order_relaxed);
    if (g_signal_wake_fd >= 0) {
        std::uint64_t one = 1;
        ssize_t r = ::write(g_signal_wake_fd, &one, sizeof one);
        (void)r;
    }
    errno = saved_errno;
}

// ---------------------------------------------------------------- clocks

/// A timespec as a duration.
Duration to_duration(const timespec& ts) noexcept {
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// ---------------------------------------------------------------- deferred inline resumptions

thread_local std::deque<Task>* t_deferred = nullptr;

}  // namespace

// ---------------------------------------------------------------- Loop

Loop& Loop::instance() {
    static Loop* loop = [] {
        auto* l = new Loop();  // never destroyed: frames and timers may outlive main()
        g_loop.store(l, std::memory_order_release);
        return l;
    }();
    return *loop;
}

bool Loop::exists() noexcept { return g_loop.load(std::memory_order_acquire) != nullptr; }

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
    // The coarse clock is CLOCK_MONOTONIC at tick resolution: trust it (timer_may_be_due())
    // only if its resolution is known and it agrees with steady_clock, whose epoch it shares.
    timespec res{};
    timespec coarse{};
    if (::clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0 &&
        ::clock_gettime(CLOCK_MONOTONIC_COARSE, &coarse) == 0) {
        const Clock::time_point c{to_duration(coarse)};
        const Duration resolution = to_duration(res);
        const Duration gap = now_ > c ? now_ - c : c - now_;
        if (resolution < std::chrono::milliseconds(100) && gap < std::chrono::milliseconds(100)) {
            coarse_slack_ = 2 * resolution + std::chrono::milliseconds(1);
        }
    }
    claim_thread_if_unset();
}

void Loop::claim_thread_if_unset() noexcept {
    std::thread::id none{};
    g_loop_thread.compare_exchange_strong(none, std::this_thread::get_id());
}

void Loop::set_loop_thread() noexcept { g_loop_thread.store(std::this_thread::get_id()); }

// ---------------------------------------------------------------- timers (4-ary heap)
// The heap holds (due, node) by value, 16 bytes a slot, so sifting compares contiguous entries
// instead of chasing node pointers (a cache miss each with a million timers); only equal
// deadlines, which are rare, look at the nodes' arming order. Each node knows its index.

namespace {
inline bool earlier(const Loop::HeapEntry& a, const Loop::HeapEntry& b) {
    return a.due < b.due || (a.due == b.due && a.node->seq < b.node->seq);
}
}  // namespace

void Loop::heap_place(std::size_t i, const HeapEntry& e) {
    heap_[i] = e;
    e.node->heap_index = static_cast<std::uint32_t>(i);
}

void Loop::sift_up(std::size_t i) {
    const HeapEntry e = heap_[i];
    while (i > 0) {
        std::size_t parent = (i - 1) / 4;
        if (!earlier(e, heap_[parent])) break;
        heap_place(i, heap_[parent]);
        i = parent;
    }
    heap_place(i, e);
}

void Loop::sift_down(std::size_t i) {
    const HeapEntry e = heap_[i];
    const std::size_t size = heap_.size();
    for (;;) {
        std::size_t first = 4 * i + 1;
        if (first >= size) break;
        std::size_t best = first;
        std::size_t last = std::min(first + 4, size);
        for (std::size_t c = first + 1; c < last; ++c) {
            if (earlier(heap_[c], heap_[best])) best = c;
        }
        if (!earlier(heap_[best], e)) break;
        heap_place(i, heap_[best]);
        i = best;
    }
    heap_place(i, e);
}

void Loop::heap_fix(std::size_t i) {
    if (i > 0 && earlier(heap_[i], heap_[(i - 1) / 4])) {
        sift_up(i);
    } else {
        sift_down(i);
    }
}

void Loop::heap_remove(TimerNode* n) {
    const std::size_t i = n->heap_index;
    n->heap_index = TimerNode::npos;
    const HeapEntry last = heap_.back();
    heap_.pop_back();
    if (last.node == n) return;
    heap_place(i, last);
    heap_fix(i);
}

void Loop::arm(TimerNode* n, Clock::time_point due) {
    n->due = due;
    n->seq = ++timer_seq_;  // a new seq: never fires in a timer phase already under way
    const HeapEntry e{due, n};
    if (n->armed()) {
        heap_[n->heap_index] = e;  // move it in place
        heap_fix(n->heap_index);
        return;
    }
    if (heap_.size() >= TimerNode::npos) throw std::length_error("kaa: too many armed timers");
    heap_.push_back(e);
    n->heap_index = static_cast<std::uint32_t>(heap_.size() - 1);
    sift_up(heap_.size() - 1);
}

void Loop::cancel(TimerNode* n) noexcept {
    if (n->armed()) heap_remove(n);
}

void Loop::run_timers() {
    // The batch is "due at now_ and armed before this phase": a callback that arms a timer due
    // now (interval 0, a restart) gets a higher seq, so it waits for the next iteration instead
    // of firing forever in this one. Popping one at a time keeps cancellation O(log n), keeps
    // the batch valid across nested loops (a callback calling wait()), and leaves the rest of
    // the batch in the heap if a callback throws.
    const Clock::time_point batch_now = now_;
    const std::uint64_t batch_seq = timer_seq_;
    while (!heap_.empty()) {
        const HeapEntry& front = heap_.front();
        if (front.due > batch_now || front.node->seq > batch_seq) break;
        TimerNode* n = front.node;
        heap_remove(n);
        n->fire(n);
    }
}

// ---------------------------------------------------------------- I/O watchers

void Loop::io_register(IoWatcher* w, int fd, bool write) {
    if (fd < 0) throw std::invalid_argument("kaa: cannot watch a negative file descriptor");
    if (w->registered && w->fd == fd && w->write == write) return;
    if (static_cast<std::size_t>(fd) >= fds_.size()) fds_.resize(static_cast<std::size_t>(fd) + 1);
    IoWatcher* FdEntry::*slot = write ? &FdEntry::write : &FdEntry::read;
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
        update_fd(fd);
    } catch (...) {
        fds_[static_cast<std::size_t>(fd)].*slot = nullptr;
        throw;
    }
    if (was_registered) {
        FdEntry& old = fds_[static_cast<std::size_t>(old_fd)];
        (old_write ? old.write : old.read) = nullptr;
        try {
            update_fd(old_fd);
        } catch (...) {
            old.events = 0;
        }
    }
    w->fd = fd;
    w->write = write;
    w->registered = true;
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
        // epoll refused the change (the fd was closed or reused): forget our view of it, so the
        // next registration ADDs it again with a new generation.
        e.events = 0;
    }
}

void Loop::update_fd(int fd) {
    FdEntry& e = fds_[static_cast<std::size_t>(fd)];
    std::uint32_t want = (e.read ? EPOLLIN | EPOLLRDHUP : 0u) | (e.write ? EPOLLOUT : 0u);
    if (want == e.events) return;
    auto ctl = [&](int op) {
        epoll_event ev{};
        ev.events = want;
        ev.data.u64 =
            (static_cast<std::uint64_t>(e.generation) << 32) | static_cast<std::uint32_t>(fd);
        return ::epoll_ctl(epfd_, op, fd, &ev) == 0 ? 0 : errno;
    };
    if (want == 0) {
        // Closing an fd removes it from the epoll set by itself: EBADF/ENOENT are fine.
        ctl(EPOLL_CTL_DEL);
        e.events = 0;
        --watched_fds_;
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
    if (err != 0) throw std::system_error(err, std::generic_category(), "kaa: epoll_ctl (watch fd)");
    if (e.events == 0) ++watched_fds_;
    e.events = want;
}

void Loop::run_io(const epoll_event* events, int n) {
    for (int i = 0; i < n; ++i) {
        const epoll_event ev = events[i];
        if (ev.data.u64 == kWakeToken) continue;
        const int fd = static_cast<int>(ev.data.u64 & 0xffffffffu);
        const auto gen = static_cast<std::uint32_t>(ev.data.u64 >> 32);
        const bool readable = ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
        const bool writable = ev.events & (EPOLLOUT | EPOLLHUP | EPOLLERR);
        // Look the entry up again before each call (fds_ may have grown, the watcher may be
        // gone, the fd may have been closed and re-added: then the generation differs).
        auto watcher = [&](bool write) -> IoWatcher* {
            if (static_cast<std::size_t>(fd) >= fds_.size()) return nullptr;
            const FdEntry& e = fds_[static_cast<std::size_t>(fd)];
            if (e.generation != gen || e.events == 0) return nullptr;
            return write ? e.write : e.read;
        };
        if (readable) {
            if (IoWatcher* w = watcher(false)) w->ready(w);
        }
        if (writable) {
            if (IoWatcher* w = watcher(true)) w->ready(w);
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
        posted_flag_.store(true, std::memory_order_release);
    }
    // Only the first post of a batch writes: later ones find posted_ non-empty, and phase 1
    // never sleeps while posted_ is non-empty.
    if (was_empty) wakeup();
}

void Loop::wakeup() noexcept {
    std::uint64_t one = 1;
    ssize_t r = ::write(wakefd_, &one, sizeof one);
    (void)r;
}

bool Loop::has_posted() {
    if (!posted_flag_.load(std::memory_order_acquire)) return false;
    std::lock_guard lock(post_mutex_);
    return !posted_.empty();
}

namespace {
// Runs batch[0..] in order. If one throws, the unrun rest is moved in front of `pending` (the
// tasks queued meanwhile) and the exception propagates. `batch` is left empty either way.
template <class Requeue>
void run_batch(std::vector<Task>& batch, Requeue requeue) {
    std::size_t i = 0;
    try {
        for (; i < batch.size(); ++i) {
            Task t = std::move(batch[i]);
            t();
        }
    } catch (...) {
        std::vector<Task> rest;
        rest.reserve(batch.size() - i - 1);
        for (++i; i < batch.size(); ++i) rest.push_back(std::move(batch[i]));
        batch.clear();
        requeue(std::move(rest));
        throw;
    }
    batch.clear();
}

void prepend(std::vector<Task>& queue, std::vector<Task>&& rest) {
    for (auto& t : queue) rest.push_back(std::move(t));
    queue = std::move(rest);
}
}  // namespace

void Loop::run_posted() {
    // The batch lives in this frame, not in a member: a task may run a nested loop.
    std::vector<Task> batch;
    if (!posted_flag_.load(std::memory_order_acquire)) return;
    {
        std::lock_guard lock(post_mutex_);
        posted_flag_.store(false, std::memory_order_relaxed);
        if (posted_.empty()) return;
        batch = std::move(posted_);
        posted_ = std::move(posted_spare_);
        posted_.clear();
    }
    run_batch(batch, [this](std::vector<Task>&& rest) {
        std::lock_guard lock(post_mutex_);
        prepend(posted_, std::move(rest));
        if (!posted_.empty()) posted_flag_.store(true, std::memory_order_release);
    });
    std::lock_guard lock(post_mutex_);
    if (batch.capacity() > posted_spare_.capacity()) posted_spare_ = std::move(batch);
}

void Loop::schedule(Task t) { ready_.push_back(std::move(t)); }

void Loop::run_ready() {
    if (ready_.empty()) return;
    std::vector<Task> batch = std::move(ready_);
    ready_ = std::move(ready_spare_);
    ready_.clear();
    run_batch(batch, [this](std::vector<Task>&& rest) { prepend(ready_, std::move(rest)); });
    if (batch.capacity() > ready_spare_.capacity()) ready_spare_ = std::move(batch);
}

// ---------------------------------------------------------------- one iteration

int Loop::sleep_ms() {
    if (heap_.empty()) return kIdleSleepMs;
    auto wait = heap_.front().due - now_;
    if (wait <= Duration::zero()) return 0;
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
    return static_cast<int>(std::min<std::int64_t>(ms, kIdleSleepMs));
}

void Loop::drain_wakeups(const epoll_event* events, int n) {
    for (int i = 0; i < n; ++i) {
        if (events[i].data.u64 == kWakeToken) {
            std::uint64_t value;
            while (::read(wakefd_, &value, sizeof value) > 0) {
            }
            return;
        }
    }
}

bool Loop::has_immediate_work() {
    return !ready_.empty() || has_posted() || g_pending_signal.load(std::memory_order_relaxed) != 0;
}

bool Loop::timer_may_be_due() const noexcept {
    if (heap_.empty()) return false;
    if (coarse_slack_ <= Duration::zero()) return true;
    timespec ts{};
    if (::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0) return true;
    return heap_.front().due <= Clock::time_point{to_duration(ts)} + coarse_slack_;
}

void Loop::step_once(bool may_block) {
    // 1. clock and sleep time. An iteration that will not sleep (work is ready or posted, a
    // signal is pending, or the caller does not block) reads the clock only if a timer may be
    // due by the coarse clock, which costs a fifth of a precise reading: a busy loop of
    // NotFinished yields does not pay ~40 ns per iteration for a clock nobody looks at.
    const bool busy = !may_block || has_immediate_work();
    if (!busy || timer_may_be_due()) now_ = Clock::now();
    const int timeout_ms = busy ? 0 : sleep_ms();
    // 2. wait for I/O. With nothing to wait for (no sleep, no fd watched) the syscall is
    // skipped: a busy loop of NotFinished yields must not pay for epoll_wait. The wakeup
    // eventfd then stays readable and is drained by the next real epoll_wait.
    epoll_event events[kMaxEvents];
    int n = 0;
    if (timeout_ms != 0 || watched_fds_ != 0) {
        n = ::epoll_wait(epfd_, events, kMaxEvents, timeout_ms);
        if (n < 0) {
            if (errno != EINTR) {
                throw std::system_error(errno, std::generic_category(), "kaa: epoll_wait");
            }
            n = 0;
        }
        // 3. clock again (only if we may have slept); wakeups; POSIX signals
        if (timeout_ms != 0) now_ = Clock::now();
        drain_wakeups(events, n);
    }
    if (g_pending_signal.load(std::memory_order_relaxed) != 0) {  // no RMW per iteration
        if (int sig = g_pending_signal.exchange(0, std::memory_order_relaxed)) {
            throw SystemExit(sig == SIGINT ? "SIGINT" : "SIGTERM");
        }
    }
    // 4. timers
    run_timers();
    // 5. I/O
    run_io(events, n);
    // 6. work posted from other threads
    run_posted();
    // 7. ready queue
    run_ready();
}

// ---------------------------------------------------------------- POSIX signals

void Loop::install_signal_handlers() {
    if (signals_installed_) return;
    g_pending_signal.store(0, std::memory_order_relaxed);
    struct sigaction sa {};
    sa.sa_handler = kaa_signal_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    // SIGINT only if nobody installed a handler (kaa: only over Python's default).
    sigint_installed_ = false;
    if (::sigaction(SIGINT, nullptr, &old_sigint_) == 0 && old_sigint_.sa_handler == SIG_DFL) {
        sigint_installed_ = ::sigaction(SIGINT, &sa, nullptr) == 0;
    }
    ::sigaction(SIGTERM, &sa, &old_sigterm_);
    signals_installed_ = true;
}

void Loop::restore_signal_handlers() noexcept {
    if (!signals_installed_) return;
    signals_installed_ = false;
    if (sigint_installed_) ::sigaction(SIGINT, &old_sigint_, nullptr);
    ::sigaction(SIGTERM, &old_sigterm_, nullptr);
    sigint_installed_ = false;
    // A signal caught after the loop's last phase 3 asked for what is happening anyway.
    g_pending_signal.store(0, std::memory_order_relaxed);
}

// ---------------------------------------------------------------- active coroutines

void Loop::shutdown_active() {
    // Move the registry into a local list first and unwind from there: each unwind may end
    // other frames (they unlink themselves from the local list) or start new ones (they go to
    // the registry and are handled in the next round). Rounds, not frames, are bounded.
    for (int round = 0; round < 100 && active_.next != &active_; ++round) {
        ActiveNode local{&local, &local};
        local.next = active_.next;
        local.prev = active_.prev;
        local.next->prev = &local;
        local.prev->next = &local;
        active_.next = active_.prev = &active_;
        while (local.next != &local) {
            ActiveNode* n = local.next;
            unregister_active(n);
            unwind_active(n);
        }
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
    // A read-modify-write, not a fence + load (TSan does not model fences, -Wtsan): it reads
    // the latest count. If it comes after a blocker's fetch_add(1) it sees the blocker; if
    // before, that fetch_add reads from it and so sees (happens-after) the completion, which
    // the blocker's finished() check then observes.
    if (g_blocked.fetch_add(0, std::memory_order_seq_cst) == 0) return;
    std::lock_guard lock(g_block_mutex);
    g_block_cv.notify_all();
}

}  // namespace kaa::detail
