// The reactor's iteration and queues: the loop's phases, the ready queue, the cross-thread
// queue (eventfd wakeup), deferred inline resumptions, the loop thread's identity and the
// registry of suspended coroutines. Its parts live beside it: timer_heap.hpp (phase 4),
// fd_table.cpp (phase 6), posix_signals.cpp (phase 3's SIGINT/SIGTERM), child_watch.cpp
// (phase 3's SIGCHLD).
//
// One iteration (step_once), phase by phase — docs/loop.md numbers them the same way:
//   1. compute the sleep: 0 if work is ready, posted or a signal is pending, else until the
//      next timer, else 30 s (kaa's idle step); read the clock if the loop may sleep or a
//      timer may be due (the coarse clock tells, for a fifth of the cost); before a sleep,
//      the idle housekeeping (run_idle_hooks: spike-sized buffers, the add_idle_hook hooks)
//   2. epoll_wait — the only blocking call (into a buffer on this call's stack: a callback may
//      run a nested loop)
//   3. read the clock again if we may have slept; drain the wakeup eventfd; reap watched
//      children after a SIGCHLD (their callbacks go to the ready queue, phase 5); deliver a
//      pending SIGINT/SIGTERM as kaa::SystemExit (the rest of the iteration is skipped)
//   4. timers: pop and fire, one at a time in (deadline, arming order), every timer that was
//      due at the clock reading of phase 3 and armed before the phase began; a timer armed or
//      re-armed by a callback (interval 0) waits for the next iteration, one cancelled by an
//      earlier callback is simply gone from the heap
//   5. the ready queue (NotFinished resumptions) as it was when the phase began: right after
//      the timers, before I/O (docs/semantics.md [loop.phase.1])
//   6. I/O: for each ready fd, look the watcher up again (an earlier callback may have
//      unregistered it, or closed the fd and registered another one: generation check) and
//      call it — read watcher first, then write watcher
//   7. posted work from other threads (swapped out under the mutex, run without it)
// An exception escaping a callback leaves the phase and the iteration; nothing is lost: due
// timers stay in the heap, unrun posted and ready tasks are put back in front of newer ones,
// and the fds of this batch are still ready (level-triggered) at the next epoll_wait. The
// exception goes to the caller (main::loop delivers it to the `exception` signal).

#include "loop/loop.hpp"

#include "loop/stall.hpp"

#include <kaa/detail/loop.hpp>
#include <kaa/detail/syscalls.hpp>
#include <kaa/errors.hpp>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <deque>
#include <system_error>
#include <utility>
#include <vector>

namespace kaa::detail {

constinit FrameCounts g_frame_counts;
thread_local constinit long t_frames_running = 0;

thread_local int inline_depth = 0;

namespace {

// ---------------------------------------------------------------- loop thread identity

std::atomic<std::thread::id> g_loop_thread{};
std::atomic<Loop*> g_loop{nullptr};

// ---------------------------------------------------------------- clocks

/// A timespec as a duration.
Duration to_duration(const timespec& ts) noexcept {
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// ---------------------------------------------------------------- idle hooks

// Constant-initialised: add_idle_hook() may run during static initialisation, before the loop.
constexpr int kMaxIdleHooks = 4;
constinit std::atomic<IdleHook> g_idle_hooks[kMaxIdleHooks]{};
constinit std::atomic<int> g_idle_hook_count{0};

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
    fds_ = FdTable(epfd_);
    wakefd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wakefd_ < 0) throw std::system_error(errno, std::generic_category(), "kaa: eventfd");
    PosixSignals::set_wake_fd(wakefd_);
    ChildWatch::set_wake_fd(wakefd_);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = FdTable::kWakeToken;
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
        if (!g_stall_armed) [[likely]] {  // tested once a batch
            for (; i < batch.size(); ++i) {
                Task t = std::move(batch[i]);
                t();
            }
        } else {
            for (; i < batch.size(); ++i) {
                Task t = std::move(batch[i]);
                stall_call(t, &task_name, &t);
            }
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
    if (timers_.empty()) return kIdleSleepMs;
    auto wait = timers_.earliest() - now_;
    if (wait <= Duration::zero()) return 0;
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
    return static_cast<int>(std::min<std::int64_t>(ms, kIdleSleepMs));
}

void Loop::drain_wakeups(const epoll_event* events, int n) {
    for (int i = 0; i < n; ++i) {
        if (events[i].data.u64 == FdTable::kWakeToken) {
            std::uint64_t value;
            while (::read(wakefd_, &value, sizeof value) > 0) {
            }
            return;
        }
    }
}

bool Loop::has_immediate_work() {
    return !ready_.empty() || has_posted() || PosixSignals::pending() || ChildWatch::pending();
}

bool Loop::timer_may_be_due() const noexcept {
    if (timers_.empty()) return false;
    if (coarse_slack_ <= Duration::zero()) return true;
    timespec ts{};
    if (::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0) return true;
    return timers_.earliest() <= Clock::time_point{to_duration(ts)} + coarse_slack_;
}

Duration Loop::backend_timeout() {
    if (has_immediate_work()) return Duration::zero();
    if (timers_.empty()) return Duration(-1);
    const Duration wait = timers_.earliest() - Clock::now();
    return wait > Duration::zero() ? wait : Duration::zero();
}

void Loop::drain_wakeup_fd() noexcept {
    std::uint64_t value;
    while (::read(wakefd_, &value, sizeof value) > 0) {
    }
}

void Loop::step_once(bool may_block) {
    // 1. clock and sleep time. An iteration that will not sleep (work is ready or posted, a
    // signal is pending, or the caller does not block) reads the clock only if a timer may be
    // due by the coarse clock, which costs a fifth of a precise reading: a busy loop of
    // NotFinished yields does not pay for a precise clock reading nobody looks at.
    const bool busy = !may_block || has_immediate_work();
    if (!busy || timer_may_be_due()) now_ = Clock::now();
    int timeout_ms = busy ? 0 : sleep_ms();
    // Idle: the loop's and its users' housekeeping; if it did work, it took time.
    if (timeout_ms != 0 && run_idle_hooks()) {
        now_ = Clock::now();
        timeout_ms = has_immediate_work() ? 0 : sleep_ms();
    }
    // 2. wait for I/O. With nothing to wait for (no sleep, no fd watched) the syscall is
    // skipped: a busy loop of NotFinished yields must not pay for epoll_wait. The wakeup
    // eventfd then stays readable and is drained by the next real epoll_wait.
    epoll_event events[kMaxEvents];
    int n = 0;
    if (timeout_ms != 0 || fds_.watched() != 0) {
        n = sys().epoll_wait(epfd_, events, kMaxEvents, timeout_ms);
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
    // Reaped children: their callbacks join the ready queue (phase 5 of this iteration).
    if (ChildWatch::pending()) children_.poll([this](Task t) { schedule(std::move(t)); });
    if (PosixSignals::pending()) {  // no RMW per iteration
        if (int sig = PosixSignals::take()) {
            throw SystemExit(sig == SIGINT ? "SIGINT" : "SIGTERM");
        }
    }
    // 4. timers
    timers_.fire_due(now_);
    // 5. ready queue
    run_ready();
    // 6. I/O
    fds_.dispatch(events, n);
    // 7. work posted from other threads
    run_posted();
}

// ---------------------------------------------------------------- idle housekeeping

namespace {
/// Shrinks a vector's buffer to twice its size if the buffer is large (1 MiB or more) and at
/// most a quarter used: a spike's leftover. Allocation failure leaves it as it was.
template <class T>
bool release_if_spike(std::vector<T>& v) noexcept {
    if (v.capacity() * sizeof(T) < (std::size_t{1} << 20) || v.size() > v.capacity() / 4) {
        return false;
    }
    try {
        std::vector<T> smaller;
        smaller.reserve(v.size() * 2);
        for (T& x : v) smaller.push_back(std::move(x));
        v.swap(smaller);
    } catch (...) {
        return false;
    }
    return true;
}
}  // namespace

bool Loop::run_idle_hooks() noexcept {
    bool worked = release_if_spike(timers_.buffer());
    worked = release_if_spike(ready_) | worked;
    worked = release_if_spike(ready_spare_) | worked;
    {
        std::lock_guard lock(post_mutex_);
        worked = release_if_spike(posted_spare_) | worked;
    }
    const int n = std::min(g_idle_hook_count.load(std::memory_order_acquire), kMaxIdleHooks);
    for (int i = 0; i < n; ++i) {
        if (IdleHook hook = g_idle_hooks[i].load(std::memory_order_acquire)) {
            worked = hook() | worked;
        }
    }
    return worked;
}

// ---------------------------------------------------------------- active coroutines

void Loop::shutdown_active() {
    // Move the registry into a local list first and unwind from there: each unwind may end
    // other frames (they unlink themselves from the local list) or start new ones (they go to
    // the registry and are handled in the next round). Rounds, not frames, are bounded.
    // Each node moves to `detached` before its detach call, so the calls may unlink any node
    // (from either list) or destroy it; the end pass takes what is still in `detached`.
    auto link_front = [](ActiveNode& list, ActiveNode* n) {
        n->prev = &list;
        n->next = list.next;
        list.next->prev = n;
        list.next = n;
    };
    for (int round = 0; round < 100 && active_.next != &active_; ++round) {
        ActiveNode local{&local, &local};
        local.next = active_.next;
        local.prev = active_.prev;
        local.next->prev = &local;
        local.prev->next = &local;
        active_.next = active_.prev = &active_;
        ActiveNode detached{&detached, &detached};
        while (local.prev != &local) {
            ActiveNode* n = local.prev;  // oldest first: the registry links at the front
            unregister_active(n);
            link_front(detached, n);
            n->unwind(n, UnwindPhase::detach);
        }
        while (detached.next != &detached) {
            ActiveNode* n = detached.next;
            unregister_active(n);
            n->unwind(n, UnwindPhase::end);
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

int loop_backend_fd() { return Loop::instance().backend_fd(); }
Duration loop_backend_timeout() { return Loop::instance().backend_timeout(); }
ActiveNode* active_registry() noexcept { return &Loop::instance().active_head(); }

void post_to_loop(Task task) { Loop::instance().post(std::move(task)); }
void loop_wakeup() noexcept { Loop::instance().wakeup(); }

bool add_idle_hook(IdleHook hook) noexcept {
    const int i = g_idle_hook_count.fetch_add(1, std::memory_order_acq_rel);
    if (i >= kMaxIdleHooks) return false;
    g_idle_hooks[i].store(hook, std::memory_order_release);
    return true;
}

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

void watch_child(pid_t pid, std::function<void(int status)> callback) {
    Loop::instance().children().watch(pid, std::move(callback));
}
bool unwatch_child(pid_t pid) noexcept { return Loop::instance().children().unwatch(pid); }
std::size_t watched_children() noexcept { return Loop::instance().children().size(); }

void io_register(IoWatcher* w, int fd, bool write) { Loop::instance().fds().add(w, fd, write); }
void io_unregister(IoWatcher* w) noexcept { Loop::instance().fds().remove(w); }

void register_active(ActiveNode* n, void (*unwind)(ActiveNode*, UnwindPhase) noexcept) noexcept {
    n->unwind = unwind;
    ActiveNode& head = Loop::instance().active_head();
    n->next = head.next;
    n->prev = &head;
    head.next->prev = n;
    head.next = n;
}

}  // namespace kaa::detail
