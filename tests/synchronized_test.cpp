// Tests for kaa/synchronized.hpp: one recursive lock per object, shared by wrapped member
// functions and scope guards, per instance, reentrant; the object-lock wrapper, a standard
// mutex as the object, and a function with a lock of its own. Moved from thread_test.cpp.
//
// Synchronisation: plain std::threads joined by each test; no main loop.

#include <kaa/synchronized.hpp>  // first: the header is self-contained

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace {

using namespace std::chrono_literals;

// ------------------------------------------------------------------ G104 synchronized

struct Account {
    long balance = 0;
    std::atomic<int> inside{0};
    std::atomic<bool> overlap{false};

    void enter() {
        if (inside.fetch_add(1) != 0) overlap = true;
    }
    void leave() { inside.fetch_sub(1); }
    void deposit(long n) {
        enter();
        long b = balance;
        std::this_thread::yield();
        balance = b + n;
        leave();
    }
    void withdraw(long n) {
        enter();
        long b = balance;
        std::this_thread::yield();
        balance = b - n;
        leave();
    }
};

// docs/semantics.md [check.G104] / [thread.sync.1]: one recursive lock per object, shared by
// sibling wrapped methods and synchronized(obj) scopes.
TEST(Synchronized, SerialisesSiblingMethodsAndScopesOnOneInstance) {
    Account acct;
    auto deposit = kaa::synchronized(&Account::deposit);
    auto withdraw = kaa::synchronized(&Account::withdraw);
    constexpr int kRounds = 2000;
    std::thread t1([&] {
        for (int i = 0; i < kRounds; ++i) deposit(acct, 3);  // by reference
    });
    std::thread t2([&] {
        for (int i = 0; i < kRounds; ++i) withdraw(&acct, 1);  // by pointer
    });
    std::thread t3([&] {
        for (int i = 0; i < kRounds; ++i) {
            kaa::synchronized guard(acct);
            acct.enter();
            long b = acct.balance;
            std::this_thread::yield();
            acct.balance = b + 1;
            acct.leave();
        }
    });
    t1.join();
    t2.join();
    t3.join();
    EXPECT_FALSE(acct.overlap.load());
    EXPECT_EQ(acct.balance, 3L * kRounds);
}

struct Meeting {
    std::mutex m;
    std::condition_variable cv;
    int arrived = 0;
    /// True if the other party arrived while this one waits (10 s at most).
    bool meet() {
        std::unique_lock lock(m);
        ++arrived;
        cv.notify_all();
        return cv.wait_for(lock, 10s, [&] { return arrived >= 2; });
    }
};

struct Room {
    bool wait_inside(Meeting* meeting) { return meeting->meet(); }
};

// [check.G104]: different instances do not exclude each other.
TEST(Synchronized, DifferentInstancesDoNotExcludeEachOther) {
    Room a, b;
    Meeting meeting;
    auto inside = kaa::synchronized(&Room::wait_inside);
    bool met_a = false, met_b = false;
    std::thread ta([&] { met_a = inside(a, &meeting); });
    std::thread tb([&] { met_b = inside(&b, &meeting); });
    ta.join();
    tb.join();
    EXPECT_TRUE(met_a);
    EXPECT_TRUE(met_b);
}

struct Nested {
    int depth = 0;
    int inner() { return ++depth; }
    int outer();
};
const auto g_inner = kaa::synchronized(&Nested::inner);
int Nested::outer() {
    kaa::synchronized guard(*this);
    return g_inner(this) + g_inner(*this);
}

// [check.G104] / [thread.sync.1]: the lock is recursive across wrapped methods and scopes in one thread.
TEST(Synchronized, IsReentrantAcrossMethodsAndScopes) {
    Nested n;
    auto outer = kaa::synchronized(&Nested::outer);
    kaa::synchronized guard(n);
    EXPECT_EQ(outer(n), 3);
}

// [check.G104] / [thread.sync.1]: a guard on the object excludes a wrapped method on it from another thread.
TEST(Synchronized, GuardExcludesWrappedMethodOfTheSameObject) {
    Account acct;
    auto deposit = kaa::synchronized(&Account::deposit);
    std::atomic<bool> entered{false};
    std::thread other;
    {
        kaa::synchronized guard(acct);
        other = std::thread([&] {
            deposit(acct, 1);
            entered = true;
        });
        // One-sided check: it must not get in while the guard is held.
        const auto until = std::chrono::steady_clock::now() + 100ms;
        while (std::chrono::steady_clock::now() < until && !entered.load())
            std::this_thread::yield();
        EXPECT_FALSE(entered.load());
    }
    other.join();
    EXPECT_TRUE(entered.load());
    EXPECT_EQ(acct.balance, 1);
}

// kaa: synchronized(obj, f) shares obj's lock; a standard mutex is used as is.
TEST(Synchronized, ObjectLockWrapperAndExplicitMutex) {
    Account acct;
    auto add = kaa::synchronized(acct, [&](long n) {
        acct.enter();
        long b = acct.balance;
        std::this_thread::yield();
        acct.balance = b + n;
        acct.leave();
    });
    std::recursive_mutex rm;
    long counter = 0;
    auto bump = [&] {
        kaa::synchronized guard(rm);
        kaa::synchronized again(rm);  // recursive
        ++counter;
    };
    std::thread t1([&] {
        for (int i = 0; i < 1000; ++i) {
            add(2);
            bump();
        }
    });
    std::thread t2([&] {
        for (int i = 0; i < 1000; ++i) {
            {
                kaa::synchronized guard(acct);
                acct.deposit(1);
            }
            bump();
        }
    });
    t1.join();
    t2.join();
    EXPECT_FALSE(acct.overlap.load());
    EXPECT_EQ(acct.balance, 3000);
    EXPECT_EQ(counter, 2000);
}

int g_plain_counter = 0;
int bump_plain() { return ++g_plain_counter; }

// kaa: a plain function decorated without an object has a lock of its own.
TEST(Synchronized, FunctionWithItsOwnLock) {
    auto bump = kaa::synchronized(bump_plain);
    auto copy = bump;  // copies share the lock
    g_plain_counter = 0;
    std::thread t1([&] {
        for (int i = 0; i < 5000; ++i) bump();
    });
    std::thread t2([&] {
        for (int i = 0; i < 5000; ++i) copy();
    });
    t1.join();
    t2.join();
    EXPECT_EQ(g_plain_counter, 10000);
}

}  // namespace
