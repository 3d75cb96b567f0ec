// kaa::Generator: a coroutine that produces values over time, consumed one by one from another
// coroutine. Reproduces kaa's test/generators.py (docs/semantics.md [gen.produce.4]): a coroutine
// producer and a producer running in a kaa::threaded call (through a GeneratorSink), then exits 0.
//
// Expected output:
//   Is main thread: True
//   1
//   11
//   2
//   3
//
//   Is main thread: False
//   1
//   2
//   3
//
//   Is main thread: True
//   collected 4 items

#include <kaa/coroutine.hpp>
#include <kaa/generator.hpp>
#include <kaa/main.hpp>
#include <kaa/thread.hpp>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

namespace {

/// Something asynchronous: gives the loop a time slice, then finishes with 10.
kaa::Coroutine<int> async_ten() {
    co_await kaa::NotFinished;
    co_return 10;
}

/// The producer: every co_yield is an item; it may await like any kaa coroutine.
kaa::Generator<int> coroutine_test() {
    std::printf("Is main thread: %s\n", kaa::main::is_mainthread() ? "True" : "False");
    co_await kaa::NotFinished;
    co_yield 1;
    int x = co_await async_ten();
    co_yield x + 1;
    co_yield 2;
    co_await kaa::NotFinished;
    co_yield 3;
}

/// kaa's `@kaa.generator(kaa.threaded)`: a threaded call pushes the items into a sink, and
/// close_when() ends the stream when that call finishes (or fails it with the call's error).
kaa::Generator<int> thread_test() {
    kaa::GeneratorSink<int> sink;
    auto produce = kaa::threaded([](kaa::GeneratorSink<int> s) {
        std::printf("Is main thread: %s\n", kaa::main::is_mainthread() ? "True" : "False");
        for (int i = 1; i <= 3; ++i) s.push(i);  // thread-safe: posted to the main loop
    });
    sink.close_when(produce(sink));
    return sink.generator();
}

/// The consumer: one item at a time, each an InProgress it awaits.
kaa::Coroutine<> print_items(kaa::Generator<int> gen) {
    while (auto item = co_await gen.next()) std::printf("%d\n", *item);
    std::printf("\n");
}

kaa::Coroutine<> run_all() {
    co_await print_items(coroutine_test());

    co_await print_items(thread_test());

    // collect() gathers a whole stream.
    auto all = co_await kaa::collect(coroutine_test());
    std::printf("collected %zu items\n", all.size());
}

}  // namespace

int main() {
    auto done = run_all();
    done.wait(10s);  // runs the main loop until everything finished
    return 0;
}
