// An outside program using kaa (tests/package/): a coroutine awaiting kaa::delay and a
// kaa::coroutine()-wrapped one, driven by kaa::main::run() until the first calls stop().
// Prints "kaa consumer: 42" and exits 0 when the result is right.

#include <kaa/kaa.hpp>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

namespace {

kaa::Coroutine<int> add_later(int a, int b) {
    co_await kaa::delay(5ms);
    co_return a + b;
}

const auto multiply = kaa::coroutine({.policy = kaa::POLICY_SINGLETON},
                                     [](int a, int b) -> kaa::Coroutine<int> {
                                         co_await kaa::delay(5ms);
                                         co_return (a * b);
                                     });

kaa::Coroutine<> compute(int& result) {
    const int sum = co_await add_later(20, 1);    // 21
    const int product = co_await multiply(3, 7);  // 21
    result = sum + product;
    kaa::main::stop();
}

}  // namespace

int main() {
    int result = 0;
    // A safety net: never hang the test.
    kaa::OneShotTimer([] { kaa::main::stop(); }).start(10s);
    auto job = compute(result);
    kaa::main::run();
    if (!job.finished() || result != 42) {
        std::fprintf(stderr, "kaa consumer: FAILED (finished %d, result %d)\n",
                     static_cast<int>(job.finished()), result);
        return 1;
    }
    std::printf("kaa consumer: %d\n", result);
    return 0;
}
