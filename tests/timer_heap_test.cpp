// The reactor's 4-ary timer heap (src/loop/timer_heap.hpp), tested on its own: ordering by
// deadline then arming order, moves, cancellation, and what fire_due() leaves for later.

#include "loop/timer_heap.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <random>
#include <vector>

namespace {

using kaa::detail::Clock;
using kaa::detail::TimerHeap;
using kaa::detail::TimerNode;
using std::chrono::milliseconds;

// A node that records the order in which nodes fired.
struct Recorder : TimerNode {
    int id = 0;
    std::vector<int>* log = nullptr;
    Recorder() {
        fire = [](TimerNode* n) {
            auto* r = static_cast<Recorder*>(n);
            r->log->push_back(r->id);
        };
    }
};

const Clock::time_point t0{};

TEST(TimerHeap, FiresDueNodesInDeadlineOrder) {
    std::vector<int> log;
    std::vector<Recorder> nodes(500);
    std::vector<int> ms(nodes.size());
    std::mt19937 rng(7);
    TimerHeap heap;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        nodes[i].id = static_cast<int>(i);
        nodes[i].log = &log;
        ms[i] = static_cast<int>(rng() % 1000);
        heap.arm(&nodes[i], t0 + milliseconds(ms[i]));
    }
    EXPECT_EQ(heap.size(), nodes.size());
    heap.fire_due(t0 + milliseconds(2000));
    ASSERT_EQ(log.size(), nodes.size());
    EXPECT_TRUE(heap.empty());
    for (std::size_t i = 1; i < log.size(); ++i) {
        const int a = log[i - 1];
        const int b = log[i];
        // Ties on the deadline fire in arming order (ids were armed in increasing order).
        EXPECT_TRUE(ms[a] < ms[b] || (ms[a] == ms[b] && a < b)) << i;
    }
    for (const auto& n : nodes) EXPECT_FALSE(n.armed());
}

TEST(TimerHeap, EqualDeadlinesFireInArmingOrder) {
    std::vector<int> log;
    std::vector<Recorder> nodes(10);
    TimerHeap heap;
    for (int i = 9; i >= 0; --i) {
        nodes[i].id = i;
        nodes[i].log = &log;
    }
    for (int i : {3, 1, 4, 0, 5, 9, 2, 6, 8, 7}) heap.arm(&nodes[i], t0);
    heap.fire_due(t0);
    EXPECT_EQ(log, (std::vector<int>{3, 1, 4, 0, 5, 9, 2, 6, 8, 7}));
}

TEST(TimerHeap, OnlyNodesDueAtTheGivenTimeFire) {
    std::vector<int> log;
    Recorder early, late;
    early.id = 1;
    late.id = 2;
    early.log = late.log = &log;
    TimerHeap heap;
    heap.arm(&late, t0 + milliseconds(20));
    heap.arm(&early, t0 + milliseconds(10));
    EXPECT_EQ(heap.earliest(), t0 + milliseconds(10));
    heap.fire_due(t0 + milliseconds(15));
    EXPECT_EQ(log, std::vector<int>{1});
    EXPECT_TRUE(late.armed());
    EXPECT_EQ(heap.earliest(), t0 + milliseconds(20));
}

TEST(TimerHeap, CancelRemovesAnyNodeAndIsIdempotent) {
    std::vector<int> log;
    std::vector<Recorder> nodes(100);
    TimerHeap heap;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        nodes[i].id = static_cast<int>(i);
        nodes[i].log = &log;
        heap.arm(&nodes[i], t0 + milliseconds(static_cast<int>((i * 37) % 100)));
    }
    for (std::size_t i = 0; i < nodes.size(); i += 3) heap.cancel(&nodes[i]);
    for (std::size_t i = 0; i < nodes.size(); i += 3) heap.cancel(&nodes[i]);  // no-op
    heap.fire_due(t0 + milliseconds(100));
    EXPECT_EQ(log.size(), nodes.size() - (nodes.size() + 2) / 3);
    for (int id : log) EXPECT_NE(id % 3, 0);
}

TEST(TimerHeap, ArmingAnArmedNodeMovesIt) {
    std::vector<int> log;
    Recorder a, b;
    a.id = 1;
    b.id = 2;
    a.log = b.log = &log;
    TimerHeap heap;
    heap.arm(&a, t0 + milliseconds(10));
    heap.arm(&b, t0 + milliseconds(20));
    heap.arm(&a, t0 + milliseconds(30));  // moved behind b
    EXPECT_EQ(heap.size(), 2u);
    heap.fire_due(t0 + milliseconds(30));
    EXPECT_EQ(log, (std::vector<int>{2, 1}));
}

// A node re-armed by its own callback with a deadline already due (interval 0) waits for the
// next fire_due() instead of firing forever in this one.
TEST(TimerHeap, NodeRearmedDuringFireDueWaitsForTheNextCall) {
    struct Rearming : TimerNode {
        TimerHeap* heap = nullptr;
        int fired = 0;
    } node;
    node.fire = [](TimerNode* n) {
        auto* r = static_cast<Rearming*>(n);
        ++r->fired;
        r->heap->arm(r, t0);
    };
    TimerHeap heap;
    node.heap = &heap;
    heap.arm(&node, t0);
    heap.fire_due(t0);
    EXPECT_EQ(node.fired, 1);
    EXPECT_TRUE(node.armed());
    heap.fire_due(t0);
    EXPECT_EQ(node.fired, 2);
    heap.cancel(&node);
}

// A callback that throws leaves the rest of the batch in the heap.
TEST(TimerHeap, ThrowingCallbackLeavesTheRestArmed) {
    struct Thrower : TimerNode {};
    Thrower bad;
    bad.fire = [](TimerNode*) { throw 42; };
    std::vector<int> log;
    Recorder good;
    good.id = 1;
    good.log = &log;
    TimerHeap heap;
    heap.arm(&bad, t0);
    heap.arm(&good, t0);
    EXPECT_THROW(heap.fire_due(t0), int);
    EXPECT_TRUE(log.empty());
    EXPECT_TRUE(good.armed());
    heap.fire_due(t0);
    EXPECT_EQ(log, std::vector<int>{1});
}

}  // namespace
