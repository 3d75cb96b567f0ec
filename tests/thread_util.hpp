#pragma once
// Helpers shared by the threaded-call and thread-pool tests (test code only).
//
//   kaa::test::wait_for_stop(st) — blocks the calling worker until the stop token is signalled.
//   kaa::test::loop_until(cond) — runs the loop, with a 1 ms timer, until cond() holds.
//
// Threads: wait_for_stop() on a worker thread; loop_until() on the main-loop thread.

#include <kaa/main.hpp>
#include <kaa/timer.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>

namespace kaa::test {

/// Blocks the calling worker until the stop token is signalled.
inline void wait_for_stop(const std::stop_token& st) {
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock lock(m);
    cv.wait(lock, st, [] { return false; });
}

/// Runs the loop until `cond()` is true (at most `limit`); a 1 ms timer keeps iterations coming
/// (for conditions that change without waking the loop).
template <class Cond>
void loop_until(Cond cond, std::chrono::seconds limit = std::chrono::seconds(20)) {
    using namespace std::chrono_literals;
    kaa::Timer tick([] {});
    tick.start(1ms);
    kaa::main::loop([&] { return !cond(); }, limit);
    tick.stop();
}

}  // namespace kaa::test
