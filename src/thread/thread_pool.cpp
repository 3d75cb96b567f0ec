// Threads: ThreadPool — the worker threads, their priority lanes, the registry of named pools
// and what loop shutdown does to every pool.
//
// Pools: one mutex guards the lanes (one FIFO per priority, highest first), the counters and
// the worker list; workers wait on work_cv_, shutdown waits on exit_cv_. Submissions go onto a
// lock-free stack (incoming_) that a worker moves into the lanes under the mutex; the submitter
// takes the mutex only when no worker is searching (then it may have to wake or start one).
// Workers are detached threads that hold a std::shared_ptr to the pool; "joining" them means
// waiting until they have left their loop (threads_ reaches 0), so no thread ever joins itself.
//
// Threads: see each function.

#include "thread/job_stack.hpp"
#include "thread/thread_internal.hpp"

#include <kaa/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace kaa::detail {

namespace {

using Clock = std::chrono::steady_clock;

thread_local PoolImpl* t_worker_pool = nullptr;  ///< the pool this thread works for

}  // namespace

/// The shared state of a ThreadPool (see the file comment).
class PoolImpl : public std::enable_shared_from_this<PoolImpl> {
public:
    PoolImpl(std::size_t size, std::chrono::nanoseconds timeout) : size_(size), timeout_(timeout) {}
    PoolImpl(const PoolImpl&) = delete;
    PoolImpl& operator=(const PoolImpl&) = delete;

    void enqueue(ThreadJob* job);
    void shutdown(bool close);

    std::size_t size() const {
        std::lock_guard lk(m_);
        return size_;
    }
    void set_size(std::size_t n);
    std::chrono::nanoseconds timeout() const {
        std::lock_guard lk(m_);
        return timeout_;
    }
    void set_timeout(std::chrono::nanoseconds t) {
        {
            std::lock_guard lk(m_);
            timeout_ = t;
        }
        work_cv_.notify_all();
    }
    std::string name() const {
        std::lock_guard lk(m_);
        return name_;
    }
    void set_name(std::string n) {
        std::lock_guard lk(m_);
        name_ = std::move(n);
    }
    std::size_t thread_count() const {
        std::lock_guard lk(m_);
        return threads_;
    }
    std::size_t queued() {
        std::lock_guard lk(m_);
        absorb_incoming();
        return queued_;
    }

private:
    /// A worker's record, on its own stack, linked while it lives.
    struct Worker {
        ThreadJob* current = nullptr;  ///< the job it runs (read under m_ by shutdown)
        Worker* prev = nullptr;
        Worker* next = nullptr;
    };
    /// The FIFO of one priority.
    struct Lane {
        int priority = 0;
        ThreadJob* head = nullptr;
        ThreadJob* tail = nullptr;
    };

    void push(ThreadJob* job);
    /// Moves the submitted jobs from incoming_ into the lanes, in submission order (under m_).
    void absorb_incoming();
    /// Whether a submitted job waits in incoming_ or the lanes (under m_).
    bool has_work() const noexcept {
        return queued_ != 0 || incoming_.load(std::memory_order_seq_cst) != nullptr;
    }
    /// After a worker took a job: if more wait and nobody searches, another worker joins in
    /// (woken or started), so a burst submitted while a worker searched still runs in parallel.
    /// Returns whether a worker must be started (after unlocking).
    bool share_work();
    ThreadJob* pop() noexcept;
    std::vector<ThreadJob*> take_all();
    void start_worker();
    void worker_main();

    mutable std::mutex m_;              ///< guards everything below
    std::condition_variable work_cv_;   ///< idle workers wait here for jobs
    std::condition_variable exit_cv_;   ///< shutdown waits here for workers to end
    std::vector<Lane> lanes_;           ///< by priority, highest first (usually one)
    std::size_t queued_ = 0;            ///< jobs in the lanes
    std::size_t size_;                  ///< maximum number of workers
    std::chrono::nanoseconds timeout_;  ///< idle time after which a worker ends
    std::size_t threads_ = 0;           ///< workers alive (counted from before they start)
    std::size_t waiting_ = 0;           ///< workers waiting on work_cv_
    /// Idle workers polling for work before waiting; changed under m_, read without it by
    /// enqueue() (seq_cst, paired with the push onto incoming_: see enqueue()).
    std::atomic<std::size_t> searching_{0};
    std::atomic<std::size_t> queued_hint_{0};    ///< queued_, readable without m_ (searching)
    std::atomic<ThreadJob*> incoming_{nullptr};  ///< submitted jobs, newest first (lock-free push)
    static constexpr int kSearchSpins = 50;      ///< yields before an idle worker sleeps
    bool stopping_ = false;                      ///< shutdown in progress: reject jobs, workers end
    bool closed_ = false;                        ///< the ThreadPool is gone
    std::string name_;                           ///< registered name
    Worker workers_{nullptr, &workers_, &workers_};  ///< circular list sentinel
};

namespace {

/// Registered pools (by name) and every live pool (for loop shutdown). Never destroyed: pools
/// and their detached workers may outlive static destruction.
struct PoolRegistry {
    std::mutex m;
    std::map<std::string, std::shared_ptr<ThreadPool>, std::less<>> named;
    std::vector<std::weak_ptr<PoolImpl>> all;
};
PoolRegistry& pool_registry() {
    static auto* r = new PoolRegistry();
    return *r;
}

}  // namespace

void PoolImpl::push(ThreadJob* job) {
    const int p = job->priority_;
    auto it = std::find_if(lanes_.begin(), lanes_.end(),
                           [p](const Lane& l) { return l.priority <= p; });
    if (it == lanes_.end() || it->priority != p) {
        if (lanes_.size() >= 8) {  // forget empty lanes of priorities no longer used
            std::erase_if(lanes_, [](const Lane& l) { return l.head == nullptr; });
            it = std::find_if(lanes_.begin(), lanes_.end(),
                              [p](const Lane& l) { return l.priority <= p; });
        }
        if (it == lanes_.end() || it->priority != p)
            it = lanes_.insert(it, Lane{p, nullptr, nullptr});
    }
    job->next_ = nullptr;
    if (it->tail) {
        it->tail->next_ = job;
    } else {
        it->head = job;
    }
    it->tail = job;
    ++queued_;
    queued_hint_.store(queued_, std::memory_order_relaxed);
}

void PoolImpl::absorb_incoming() {
    if (incoming_.load(std::memory_order_relaxed) == nullptr) return;
    ThreadJob* fifo = take_jobs_in_order(incoming_, std::memory_order_seq_cst);
    while (fifo) {
        ThreadJob* next = fifo->next_;
        push(fifo);
        fifo = next;
    }
}

bool PoolImpl::share_work() {
    if (queued_ == 0 || searching_.load(std::memory_order_relaxed) != 0) return false;
    if (waiting_ > 0) {
        work_cv_.notify_one();
        return false;
    }
    if (threads_ < size_ && !stopping_ && !closed_) {
        ++threads_;
        return true;
    }
    return false;
}

ThreadJob* PoolImpl::pop() noexcept {
    absorb_incoming();
    for (Lane& lane : lanes_) {
        if (ThreadJob* job = lane.head) {
            lane.head = job->next_;
            if (!lane.head) lane.tail = nullptr;
            job->next_ = nullptr;
            --queued_;
            queued_hint_.store(queued_, std::memory_order_relaxed);
            return job;
        }
    }
    return nullptr;
}

std::vector<ThreadJob*> PoolImpl::take_all() {
    std::vector<ThreadJob*> jobs;
    jobs.reserve(queued_);
    while (ThreadJob* job = pop()) jobs.push_back(job);
    return jobs;
}

void PoolImpl::enqueue(ThreadJob* job) {
    push_job(incoming_, job, std::memory_order_seq_cst);
    // A searching worker takes the job without m_ or a wake-up. It checks incoming_ again under
    // m_ after it stopped searching, and both that decrement and this load are seq_cst: if this
    // load still counts it, its check comes after the push and finds the job (or the worker
    // that moved it into the lanes). Shutdown fails what is left once every worker is gone.
    if (searching_.load(std::memory_order_seq_cst) != 0) return;
    std::unique_lock lk(m_);
    absorb_incoming();
    if (stopping_ || closed_) {
        std::vector<ThreadJob*> rejected = take_all();
        lk.unlock();
        fail_queued_jobs(rejected, "kaa: thread pool shut down");
        return;
    }
    const std::size_t searching = searching_.load(std::memory_order_relaxed);
    const bool spawn = threads_ < size_ && queued_ > waiting_ + searching;
    if (spawn) ++threads_;
    const bool wake = waiting_ > 0 && queued_ > searching;
    lk.unlock();
    if (wake) work_cv_.notify_one();
    if (spawn) start_worker();
}

void PoolImpl::start_worker() {
    try {
        std::thread([self = shared_from_this()] { self->worker_main(); }).detach();
    } catch (...) {
        // No thread: if none is left, the queued jobs would never run; fail them.
        std::exception_ptr error = std::current_exception();
        std::vector<ThreadJob*> orphans;
        {
            std::lock_guard lk(m_);
            --threads_;
            if (threads_ == 0) orphans = take_all();
        }
        for (ThreadJob* job : orphans) fail_queued_job(job, error, nullptr);
    }
}

void PoolImpl::worker_main() {
    t_worker_pool = this;
    std::unique_lock lk(m_);
    Worker self;
    self.next = &workers_;
    self.prev = workers_.prev;
    workers_.prev->next = &self;
    workers_.prev = &self;

    bool idle = false;
    Clock::time_point idle_since{};
    for (;;) {
        if (stopping_ || closed_ || threads_ > size_) break;
        if (ThreadJob* job = pop()) {
            idle = false;
            if (!job->job_claim()) {  // aborted while queued: never runs
                push_completion(job);
                continue;
            }
            self.current = job;
            const bool spawn = share_work();
            lk.unlock();
            if (spawn) start_worker();
            job->job_run();
            lk.lock();
            self.current = nullptr;
            push_completion(job);  // under m_: shutdown never sees a job the loop may free
            continue;
        }
        if (!idle) {
            idle = true;
            idle_since = Clock::now();
        }
        // Search a little before sleeping: when jobs come one by one (the loop submitting them
        // while workers keep up), a sleeping worker costs a futex wake-up and a context switch
        // per job; a searching one picks the next job up without being signalled.
        searching_.fetch_add(1, std::memory_order_seq_cst);
        lk.unlock();
        for (int spin = 0;
             spin < kSearchSpins && queued_hint_.load(std::memory_order_relaxed) == 0 &&
             incoming_.load(std::memory_order_relaxed) == nullptr;
             ++spin) {
            std::this_thread::yield();
        }
        lk.lock();
        searching_.fetch_sub(1, std::memory_order_seq_cst);
        if (has_work() || stopping_ || closed_ || threads_ > size_) continue;
        ++waiting_;
        if (timeout_ >= std::chrono::hours(24 * 365)) {
            work_cv_.wait(lk);
        } else {
            work_cv_.wait_until(lk,
                                idle_since + std::chrono::duration_cast<Clock::duration>(timeout_));
        }
        --waiting_;
        if (!has_work() && timeout_ < std::chrono::hours(24 * 365) &&
            Clock::now() >= idle_since + std::chrono::duration_cast<Clock::duration>(timeout_)) {
            break;
        }
    }
    self.prev->next = self.next;
    self.next->prev = self.prev;
    --threads_;
    exit_cv_.notify_all();
    t_worker_pool = nullptr;
    // The lambda's shared_ptr keeps *this alive until this thread has left.
}

void PoolImpl::set_size(std::size_t n) {
    if (n == 0) throw std::invalid_argument("kaa: a ThreadPool needs at least one thread");
    std::size_t spawn = 0;
    {
        std::lock_guard lk(m_);
        size_ = n;
        absorb_incoming();
        const std::size_t searching = searching_.load(std::memory_order_relaxed);
        if (!stopping_ && !closed_ && threads_ < size_ && queued_ > waiting_ + searching) {
            spawn = std::min(size_ - threads_, queued_ - waiting_ - searching);
            threads_ += spawn;
        }
    }
    work_cv_.notify_all();  // excess idle workers end
    for (std::size_t i = 0; i < spawn; ++i) start_worker();
}

void PoolImpl::shutdown(bool close) {
    const bool on_own_thread = t_worker_pool == this;
    if (on_own_thread && !close) {
        throw std::logic_error("kaa: ThreadPool::shutdown() called from one of its own threads");
    }
    std::vector<ThreadJob*> taken;
    {
        std::lock_guard lk(m_);
        stopping_ = true;
        if (close) closed_ = true;
        taken = take_all();
        for (Worker* w = workers_.next; w != &workers_; w = w->next) {
            if (w->current) w->current->stop_.request_stop();
        }
    }
    work_cv_.notify_all();
    fail_queued_jobs(taken, "kaa: thread pool shut down");
    std::unique_lock lk(m_);
    const std::size_t self = on_own_thread ? 1 : 0;
    exit_cv_.wait(lk, [&] { return threads_ <= self; });
    // Jobs pushed while the last searchers were leaving (see enqueue()) never ran: fail them.
    taken = take_all();
    stopping_ = closed_;
    lk.unlock();
    fail_queued_jobs(taken, "kaa: thread pool shut down");
}

ThreadPool& resolve_pool(ThreadDispatch& d) {
    std::call_once(d.resolve_once, [&d] {
        if (d.target.pool()) {
            d.pool = d.target.pool();
            return;
        }
        // kaa: an unknown name registers a new pool of size 1 (kaa also logs a warning).
        if (auto existing = get_thread_pool(d.target.name())) {
            d.pool = std::move(existing);
            return;
        }
        auto fresh = std::make_shared<ThreadPool>(1);
        PoolRegistry& r = pool_registry();
        std::lock_guard lk(r.m);
        auto [it, inserted] = r.named.try_emplace(d.target.name(), fresh);
        if (inserted) Access::pool_impl(*fresh).set_name(d.target.name());
        d.pool = it->second;
    });
    return *d.pool;  // kept alive by the wrapper's dispatch state
}

/// The pool part of the loop-shutdown hook (thread_shutdown(), threaded.cpp): every live pool
/// shuts down as ThreadPool::shutdown() does.
void shutdown_pools() {
    std::vector<std::shared_ptr<PoolImpl>> pools;
    {
        PoolRegistry& r = pool_registry();
        std::lock_guard lk(r.m);
        for (auto& w : r.all) {
            if (auto p = w.lock()) pools.push_back(std::move(p));
        }
    }
    for (auto& p : pools) p->shutdown(false);
}

}  // namespace kaa::detail

// ---------------------------------------------------------------- public ThreadPool API

namespace kaa {

ThreadPool::ThreadPool(std::size_t size, std::chrono::nanoseconds timeout) {
    if (size == 0) throw std::invalid_argument("kaa: a ThreadPool needs at least one thread");
    impl_ = std::make_shared<detail::PoolImpl>(size, timeout);
    detail::PoolRegistry& r = detail::pool_registry();
    std::lock_guard lk(r.m);
    std::erase_if(r.all, [](const std::weak_ptr<detail::PoolImpl>& w) { return w.expired(); });
    r.all.push_back(impl_);
}

ThreadPool::~ThreadPool() {
    try {
        impl_->shutdown(true);
    } catch (...) {
        report_exception(std::current_exception(), "Exception while destroying a ThreadPool");
    }
}

std::size_t ThreadPool::size() const { return impl_->size(); }
void ThreadPool::set_size(std::size_t size) { impl_->set_size(size); }
std::chrono::nanoseconds ThreadPool::timeout() const { return impl_->timeout(); }
void ThreadPool::set_timeout(std::chrono::nanoseconds timeout) { impl_->set_timeout(timeout); }
std::string ThreadPool::name() const { return impl_->name(); }
std::size_t ThreadPool::thread_count() const { return impl_->thread_count(); }
std::size_t ThreadPool::queued() const { return impl_->queued(); }
void ThreadPool::shutdown() { impl_->shutdown(false); }
void ThreadPool::enqueue(detail::ThreadJob* job) { impl_->enqueue(job); }

std::shared_ptr<ThreadPool> register_thread_pool(const std::string& name,
                                                 std::shared_ptr<ThreadPool> pool) {
    if (!pool) throw std::invalid_argument("kaa: register_thread_pool() needs a pool");
    detail::PoolRegistry& r = detail::pool_registry();
    {
        std::lock_guard lk(r.m);
        auto [it, inserted] = r.named.try_emplace(name, pool);
        if (!inserted) {
            throw std::invalid_argument("A registered pool already exists with name \"" + name +
                                        "\"");
        }
    }
    detail::Access::pool_impl(*pool).set_name(name);
    return pool;
}

std::shared_ptr<ThreadPool> get_thread_pool(std::string_view name) {
    detail::PoolRegistry& r = detail::pool_registry();
    std::lock_guard lk(r.m);
    auto it = r.named.find(name);
    return it == r.named.end() ? nullptr : it->second;
}

}  // namespace kaa
