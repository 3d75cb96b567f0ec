// Tests for kaa/thread_pool.hpp: queue order by priority, the registry of named pools (and the
// pool a ThreadPoolCallable registers for an unknown name), resizing, the idle timeout,
// shutdown by hand, from a pool thread and at loop shutdown, and the pool's lifetime.
// Moved from thread_test.cpp; the comment above each test names the item it follows.
//
// Synchronisation: latches, condition variables and stop tokens; the loop is driven with
// ip.wait() or main::loop(cond, timeout).

#include <kaa/thread_pool.hpp>  // first: the header is self-contained

#include <kaa/errors.hpp>
#include <kaa/inprogress.hpp>
#include <kaa/main.hpp>
#include <kaa/thread.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "thread_util.hpp"

namespace {

using namespace std::chrono_literals;
using kaa::test::loop_until;
using kaa::test::wait_for_stop;

/// A name no other test (or repetition of this one) uses.
std::string unique_name(const std::string& base) {
    static std::atomic<int> n{0};
    return base + "#" + std::to_string(n.fetch_add(1));
}

// ------------------------------------------------------------------ G100 priorities

// docs/semantics.md [check.G100]
TEST(ThreadPool, SizeOneRunsByDescendingPriorityFifoAmongEquals) {
    auto pool = std::make_shared<kaa::ThreadPool>(1);
    std::latch started(1);
    std::latch gate(1);
    std::mutex m;
    std::vector<std::string> order;
    auto blocker = kaa::threaded({.pool = pool}, [&] {
        started.count_down();
        gate.wait();
    });
    auto record = [&](std::string name) {
        std::lock_guard lock(m);
        order.push_back(std::move(name));
    };
    auto lo = kaa::threaded({.pool = pool, .priority = 0}, record);
    auto hi = kaa::threaded({.pool = pool, .priority = 5}, record);
    auto neg = kaa::threaded({.pool = pool, .priority = -3}, record);

    auto b = blocker();
    started.wait();  // the only thread is busy: everything below queues
    std::vector<kaa::ThreadInProgress<void>> ips{lo("lo1"), neg("neg6"), lo("lo2"),
                                                 hi("hi3"), lo("lo4"),   hi("hi5")};
    EXPECT_EQ(pool->queued(), 6u);
    gate.count_down();
    b.wait();
    for (auto& ip : ips) ip.wait();
    EXPECT_EQ(order, (std::vector<std::string>{"hi3", "hi5", "lo1", "lo2", "lo4", "neg6"}));
}

// [check.G100] (kaa's jobserver): two named pools, one aborted job.
TEST(ThreadPool, JobserverScenario) {
    const std::string x = unique_name("x"), y = unique_name("y");
    kaa::register_thread_pool(x, std::make_shared<kaa::ThreadPool>(1));
    std::latch started(1);
    std::latch gate(1);
    std::mutex m;
    std::vector<int> printed;
    auto print = [&](int n) {
        std::lock_guard lock(m);
        printed.push_back(n);
    };
    auto first = kaa::threaded({.pool = x}, [&](int n) {
        print(n);
        started.count_down();
        gate.wait();
    });
    auto job = kaa::threaded({.pool = x}, print);
    auto urgent = kaa::threaded({.pool = x, .priority = 5}, print);
    auto other = kaa::threaded({.pool = y}, print);
    auto j1 = first(1);
    started.wait();
    auto j2 = job(2);
    auto j3 = urgent(3);
    auto j4 = job(4);
    auto j5 = job(5);
    auto j6 = other(6);
    j6.wait();
    j4.abort();
    gate.count_down();
    for (auto* ip : {&j1, &j2, &j3, &j5}) ip->wait();
    EXPECT_EQ(printed, (std::vector<int>{1, 6, 3, 2, 5}));
    EXPECT_TRUE(j4.failed());
}

// ------------------------------------------------------------------ G103 registry

// [check.G103]
TEST(ThreadPool, RegisterDuplicateNameThrows) {
    const std::string name = unique_name("g103");
    auto pool = std::make_shared<kaa::ThreadPool>(2);
    EXPECT_EQ(pool->name(), "");
    EXPECT_EQ(kaa::register_thread_pool(name, pool), pool);
    EXPECT_EQ(pool->name(), name);
    EXPECT_EQ(kaa::get_thread_pool(name), pool);
    EXPECT_THROW(kaa::register_thread_pool(name, std::make_shared<kaa::ThreadPool>()),
                 std::invalid_argument);
    EXPECT_EQ(kaa::get_thread_pool(name), pool);
    EXPECT_THROW(kaa::register_thread_pool(unique_name("null"), nullptr), std::invalid_argument);
}

// [check.G103]
TEST(ThreadPool, GetUnknownNameReturnsNull) {
    EXPECT_EQ(kaa::get_thread_pool(unique_name("never-registered")), nullptr);
}

// [check.G103]
TEST(ThreadPool, UnknownNameRegistersAPoolOfSizeOne) {
    const std::string name = unique_name("implicit");
    kaa::ThreadPoolCallable f(name, [] { return kaa::is_mainthread(); });
    EXPECT_EQ(kaa::get_thread_pool(name), nullptr);  // resolved at the first call
    EXPECT_FALSE(f().wait());
    auto pool = kaa::get_thread_pool(name);
    ASSERT_NE(pool, nullptr);
    EXPECT_EQ(pool->size(), 1u);
    EXPECT_EQ(pool->name(), name);
    // A second wrapper with the same name uses the same pool.
    kaa::ThreadPoolCallable g(name, 3, [] { return 2; });
    EXPECT_EQ(g().wait(), 2);
    EXPECT_EQ(kaa::get_thread_pool(name), pool);
}

// ------------------------------------------------------------------ pool behaviour

TEST(ThreadPool, ZeroSizeIsRejected) {
    EXPECT_THROW(kaa::ThreadPool(0), std::invalid_argument);
    kaa::ThreadPool pool(1);
    EXPECT_THROW(pool.set_size(0), std::invalid_argument);
}

TEST(ThreadPool, ResizingStartsAndStopsThreads) {
    auto pool = std::make_shared<kaa::ThreadPool>(1);
    std::latch all_inside(3);
    auto meet = kaa::threaded({.pool = pool}, [&] { all_inside.arrive_and_wait(); });
    std::vector<kaa::ThreadInProgress<void>> ips{meet(), meet(), meet()};
    EXPECT_EQ(pool->size(), 1u);
    pool->set_size(3);  // with one thread the three could never meet
    for (auto& ip : ips) ip.wait();
    EXPECT_EQ(pool->thread_count(), 3u);
    pool->set_size(1);  // the idle excess ends
    loop_until([&] { return pool->thread_count() == 1; });
    EXPECT_EQ(pool->thread_count(), 1u);
}

TEST(ThreadPool, IdleThreadsEndAfterTheTimeout) {
    auto pool = std::make_shared<kaa::ThreadPool>(2, 30s);
    EXPECT_EQ(pool->timeout(), 30s);
    const auto start = std::chrono::steady_clock::now();  // before the thread becomes idle
    kaa::threaded({.pool = pool}, [] {})().wait();
    EXPECT_EQ(pool->thread_count(), 1u);
    pool->set_timeout(20ms);  // idle threads re-check at once
    loop_until([&] { return pool->thread_count() == 0; });
    EXPECT_EQ(pool->thread_count(), 0u);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
    EXPECT_EQ(kaa::threaded({.pool = pool}, [] { return 3; })().wait(), 3);  // starts anew
}

// Loop shutdown, done by hand: queued calls fail with InProgressAborted, running calls are
// asked to stop and waited for; the pool stays usable.
TEST(ThreadPool, ShutdownFailsQueuedStopsRunningAndJoins) {
    auto pool = std::make_shared<kaa::ThreadPool>(1);
    std::latch started(1);
    auto running = kaa::threaded({.pool = pool}, [&](std::stop_token st) {
        started.count_down();
        wait_for_stop(st);
        return 5;
    });
    std::atomic<bool> ran{false};
    auto queued = kaa::threaded({.pool = pool}, [&] { ran = true; });
    auto r = running();
    started.wait();
    auto q = queued();
    pool->shutdown();
    EXPECT_EQ(pool->thread_count(), 0u);
    EXPECT_TRUE(q.failed());
    EXPECT_THROW(q.result(), kaa::InProgressAborted);
    EXPECT_EQ(r.wait(), 5);  // it stopped and returned normally; delivered by the loop
    EXPECT_FALSE(ran.load());
    EXPECT_EQ(kaa::threaded({.pool = pool}, [] { return 1; })().wait(), 1);
}

// Jobs submitted while a worker searches for work skip the pool's lock and wake-up; a burst of
// them must still spread over the idle workers: four jobs that each wait until all four run
// at once pass only if four workers take them.
TEST(ThreadPool, BurstSubmittedWhileWorkersSearchRunsInParallel) {
    auto pool = std::make_shared<kaa::ThreadPool>(4);
    auto warm = kaa::threaded({.pool = pool}, [] { return 0; });
    for (int round = 0; round < 20; ++round) {
        EXPECT_EQ(warm().wait(), 0);  // workers exist and search when the burst comes
        std::atomic<int> running{0};
        auto meet = kaa::threaded({.pool = pool}, [&running] {
            running.fetch_add(1);
            const auto give_up = std::chrono::steady_clock::now() + 10s;
            while (running.load() < 4 && std::chrono::steady_clock::now() < give_up) {
                std::this_thread::yield();
            }
            return running.load() >= 4;
        });
        std::vector<kaa::ThreadInProgress<bool>> burst;
        for (int i = 0; i < 4; ++i) burst.push_back(meet());
        for (auto& ip : burst) EXPECT_TRUE(ip.wait());
    }
}

// Submissions racing with shutdown(): each call either runs or fails with InProgressAborted
// (none is stranded in the pool's lock-free submission stack), and the pool works afterwards.
TEST(ThreadPool, JobsSubmittedDuringShutdownAllFinish) {
    auto pool = std::make_shared<kaa::ThreadPool>(2);
    auto f = kaa::threaded({.pool = pool}, [](int i) { return i; });
    constexpr int kJobs = 2000;
    std::vector<kaa::ThreadInProgress<int>> ips;
    ips.reserve(kJobs);
    std::mutex m;
    std::latch half(1);
    std::thread submitter([&] {
        for (int i = 0; i < kJobs; ++i) {
            auto ip = f(i);
            {
                std::lock_guard lock(m);
                ips.push_back(ip);
            }
            if (i == kJobs / 2) half.count_down();
        }
    });
    half.wait();
    pool->shutdown();
    submitter.join();
    int ran = 0;
    int refused = 0;
    for (int i = 0; i < kJobs; ++i) {
        try {
            EXPECT_EQ(ips[static_cast<std::size_t>(i)].wait(10s), i);
            ++ran;
        } catch (const kaa::TimeoutException&) {
            ADD_FAILURE() << "job " << i << " never finished";
        } catch (const kaa::InProgressAborted&) {
            ++refused;  // queued or submitted while the pool shut down
        }
    }
    EXPECT_EQ(ran + refused, kJobs);
    EXPECT_EQ(f(7).wait(10s), 7);
}

// A pool thread cannot shut its own pool down (it would wait for itself).
TEST(ThreadPool, ShutdownFromItsOwnThreadThrows) {
    auto pool = std::make_shared<kaa::ThreadPool>(1);
    kaa::ThreadPool* raw = pool.get();
    auto f = kaa::threaded({.pool = pool}, [raw] {
        try {
            raw->shutdown();
        } catch (const std::logic_error&) {
            return true;
        }
        return false;
    });
    EXPECT_TRUE(f().wait());
}

// Jobs keep their pool alive (through their wrapper): dropping every handle to the pool and
// the wrapper does not lose queued work.
TEST(ThreadPool, QueuedJobsKeepThePoolAlive) {
    auto pool = std::make_shared<kaa::ThreadPool>(1);
    std::weak_ptr<kaa::ThreadPool> weak = pool;
    std::latch started(1);
    std::latch gate(1);
    std::optional<kaa::ThreadInProgress<int>> blocked, queued;
    {
        auto block = kaa::threaded({.pool = pool}, [&] {
            started.count_down();
            gate.wait();
            return 1;
        });
        auto f = kaa::threaded({.pool = pool}, [] { return 2; });
        blocked.emplace(block());
        started.wait();
        queued.emplace(f());
    }
    pool.reset();
    EXPECT_FALSE(weak.expired());
    gate.count_down();
    EXPECT_EQ(blocked->wait(), 1);
    EXPECT_EQ(queued->wait(), 2);
    blocked.reset();
    queued.reset();
    EXPECT_TRUE(weak.expired());  // the last job released the wrapper, which held the pool
}

// The loop's shutdown (main::run() ending) shuts every pool down and waits for per-call threads
// created with `wait`.
TEST(ThreadPool, LoopShutdownStopsPoolsAndWaitsForThreads) {
    auto pool = std::make_shared<kaa::ThreadPool>(1);
    std::latch started(2);
    auto running = kaa::threaded({.pool = pool}, [&](std::stop_token st) {
        started.count_down();
        wait_for_stop(st);
        return 5;
    });
    auto waited = kaa::threaded({.wait = true}, [&](std::stop_token st) {
        started.count_down();
        wait_for_stop(st);
        return 6;
    });
    std::atomic<bool> ran{false};
    auto queued = kaa::threaded({.pool = pool}, [&] { ran = true; });
    auto r = running();
    auto w = waited();
    started.wait();
    auto q = queued();
    kaa::main::post([] { kaa::main::stop(); });
    kaa::main::run();
    ASSERT_TRUE(r.finished());
    EXPECT_EQ(r.result(), 5);
    ASSERT_TRUE(w.finished());
    EXPECT_EQ(w.result(), 6);
    ASSERT_TRUE(q.finished());
    EXPECT_THROW(q.result(), kaa::InProgressAborted);
    EXPECT_FALSE(ran.load());
    EXPECT_EQ(pool->thread_count(), 0u);
}

}  // namespace
