#pragma once
// Loop helpers shared by the loop, timer and I/O tests (test code only).
//
//   kaa::test::Ticker — RAII: an interval-0 timer is due in every iteration while it lives, so
//       main::step() never sleeps (kaa's idle step blocks up to 30 s).
//   kaa::test::steps(n) — runs n loop iterations.
//
// Threads: main-loop thread only.

#include <kaa/main.hpp>
#include <kaa/timer.hpp>

#include <chrono>

namespace kaa::test {

class Ticker {
public:
    Ticker() : timer_([] {}) { timer_.start(std::chrono::nanoseconds(0)); }
    ~Ticker() { timer_.stop(); }
    Ticker(const Ticker&) = delete;
    Ticker& operator=(const Ticker&) = delete;

private:
    kaa::Timer timer_;
};

inline void steps(int n) {
    for (int i = 0; i < n; ++i) kaa::main::step();
}

}  // namespace kaa::test
