#pragma once
// The loop's timers: a 4-ary min-heap of intrusive TimerNodes, ordered by (deadline, arming
// order), with O(log n) arm, move and cancel (private to src/loop/).
//
// The heap holds (due, node) by value, 16 bytes a slot, so sifting compares contiguous entries
// instead of chasing node pointers (a cache miss each with a million timers); only equal
// deadlines, which are rare, look at the nodes' arming order. Each node knows its index.
//
// Threads: loop-thread only.

#include "loop/stall.hpp"

#include <kaa/detail/loop.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace kaa::detail {

class TimerHeap {
public:
    /// A heap slot: the node's deadline copied next to it (its arming order breaks ties).
    struct Entry {
        Clock::time_point due;
        TimerNode* node;
    };

    /// Arms `n` to fire at `due`, or moves it there if armed. A new arming order: a node armed
    /// while fire_due() runs never fires in that same call. Throws std::length_error past
    /// 2^32 - 1 armed timers.
    void arm(TimerNode* n, Clock::time_point due) {
        n->due = due;
        n->seq = ++seq_;
        const Entry e{due, n};
        if (n->armed()) {
            heap_[n->heap_index] = e;  // move it in place
            fix(n->heap_index);
            return;
        }
        if (heap_.size() >= TimerNode::npos) throw std::length_error("kaa: too many armed timers");
        heap_.push_back(e);
        n->heap_index = static_cast<std::uint32_t>(heap_.size() - 1);
        sift_up(heap_.size() - 1);
    }

    /// Disarms `n` if armed; a no-op otherwise.
    void cancel(TimerNode* n) noexcept {
        if (n->armed()) remove(n);
    }

    /// Whether no timer is armed.
    bool empty() const noexcept { return heap_.empty(); }
    /// Number of armed timers.
    std::size_t size() const noexcept { return heap_.size(); }
    /// The heap's storage, to shrink its buffer (moving the entries keeps the heap intact).
    std::vector<Entry>& buffer() noexcept { return heap_; }
    /// The earliest deadline. Precondition: !empty().
    Clock::time_point earliest() const noexcept { return heap_.front().due; }

    /// Pops and fires, one at a time in (deadline, arming order), every node due at `now` and
    /// armed before this call. A node (re-)armed by a callback — interval 0, a restart — has a
    /// later arming order, so it waits for the next call instead of firing forever in this
    /// one. Popping one at a time keeps cancellation O(log n), keeps the batch valid across
    /// nested loops (a callback calling wait()), and leaves the rest of the batch in the heap
    /// if a callback throws (the exception propagates).
    void fire_due(Clock::time_point now) {
        const std::uint64_t batch_seq = seq_;
        while (!heap_.empty()) {
            const Entry& front = heap_.front();
            if (front.due > now || front.node->seq > batch_seq) break;
            TimerNode* n = front.node;
            remove(n);
            stall_call([n] { n->fire(n); }, &timer_name, n);
        }
    }

private:
    static bool earlier(const Entry& a, const Entry& b) noexcept {
        return a.due < b.due || (a.due == b.due && a.node->seq < b.node->seq);
    }

    void place(std::size_t i, const Entry& e) noexcept {
        heap_[i] = e;
        e.node->heap_index = static_cast<std::uint32_t>(i);
    }

    void sift_up(std::size_t i) noexcept {
        const Entry e = heap_[i];
        while (i > 0) {
            std::size_t parent = (i - 1) / 4;
            if (!earlier(e, heap_[parent])) break;
            place(i, heap_[parent]);
            i = parent;
        }
        place(i, e);
    }

    void sift_down(std::size_t i) noexcept {
        const Entry e = heap_[i];
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
            place(i, heap_[best]);
            i = best;
        }
        place(i, e);
    }

    void fix(std::size_t i) noexcept {
        if (i > 0 && earlier(heap_[i], heap_[(i - 1) / 4])) {
            sift_up(i);
        } else {
            sift_down(i);
        }
    }

    void remove(TimerNode* n) noexcept {
        const std::size_t i = n->heap_index;
        n->heap_index = TimerNode::npos;
        const Entry last = heap_.back();
        heap_.pop_back();
        if (last.node == n) return;
        place(i, last);
        fix(i);
    }

    std::vector<Entry> heap_;  ///< 4-ary min-heap on (due, seq)
    std::uint64_t seq_ = 0;    ///< arming order, breaks ties between equal deadlines
};

}  // namespace kaa::detail
