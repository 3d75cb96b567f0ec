// A tour of kaa for C++: InProgress, signals, timers, delay, coroutines and threads together.
// `make demo` builds and runs it. Each part prints what it shows; the program exits 0.

#include <kaa/kaa.hpp>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

// ---------------------------------------------------------------- 1. InProgress
// A result that is a future, a one-shot signal and an abort handle at once.
void part_inprogress() {
    std::cout << "\n== 1. InProgress\n";
    kaa::InProgress<int> answer;
    answer.connect([](int v) { std::cout << "listener got " << v << '\n'; });
    answer.finish(42);
    // Connecting after it finished calls the listener at once.
    answer.connect([](int v) { std::cout << "late listener got " << v << " too\n"; });

    kaa::InProgress<std::string> failing;
    failing.connect_exception([](std::exception_ptr e) {
        std::cout << "exception listener: " << kaa::describe_exception(e) << '\n';
        return false;  // false = handled: it will not be reported as unhandled
    });
    failing.throw_exception(std::runtime_error("disk full"));
}

// ---------------------------------------------------------------- 2. Signals
void part_signals() {
    std::cout << "\n== 2. Signals\n";
    kaa::Signal<std::string> message;
    message.connect(
        [](const std::string& s, int bound) {
            std::cout << "got '" << s << "' with bound argument " << bound << '\n';
        },
        7);
    message.connect_once([](const std::string& s) { std::cout << "once: " << s << '\n'; });
    message.emit("hello");
    message.emit("again");  // the once-callback is gone
    // A signal's next emission as an InProgress:
    auto next = kaa::inprogress(message);
    message.emit("as an InProgress");
    std::cout << "inprogress(signal) finished with '" << next.result() << "'\n";
}

// ---------------------------------------------------------------- 3. Timers and delay
void part_timers() {
    std::cout << "\n== 3. Timers and delay\n";
    int ticks = 0;
    kaa::Timer ticker([&ticks] {
        std::cout << "tick " << ++ticks << '\n';
        return ticks < 3;  // returning false stops a repeating timer
    });
    ticker.start(10ms);
    kaa::delay(50ms).wait();  // wait() keeps the loop running until the delay finished
    std::cout << "ticker active after 3 ticks: " << std::boolalpha << ticker.active() << '\n';
}

// ---------------------------------------------------------------- 4. Coroutines
kaa::Coroutine<int> count_slowly(std::string name, int n) {
    int sum = 0;
    for (int i = 1; i <= n; ++i) {
        sum += i;
        std::cout << name << " step " << i << '\n';
        co_await kaa::NotFinished;  // a time slice for everyone else
    }
    co_return sum;
}

kaa::Coroutine<int> add_both() {
    // Two coroutines interleave on the one loop thread; this one awaits both.
    auto a = count_slowly("a", 3);
    auto b = count_slowly("b", 2);
    int x = co_await a;
    int y = co_await b;
    co_return x + y;
}

kaa::Coroutine<> delay_print(std::string s) {
    try {
        co_await kaa::delay(5s);
        std::cout << s << '\n';
    } catch (const kaa::InProgressAborted& e) {
        std::cout << "delay_print aborted; the delay it awaited is finished: " << std::boolalpha
                  << e.inprogress().finished() << '\n';
    }
}

void part_coroutines() {
    std::cout << "\n== 4. Coroutines\n";
    int total = add_both().wait();
    std::cout << "add_both() = " << total << '\n';
    auto printer = delay_print("never printed");
    printer.abort();
    std::cout << "printer finished=" << printer.finished() << " failed=" << printer.failed()
              << '\n';
}

// ---------------------------------------------------------------- 5. Threads
// Blocking work runs on a pool thread; the result comes back to the loop as an InProgress.
kaa::Coroutine<> show_thumbnail() {
    auto scale = kaa::threaded({.pool = "images"}, [](int width, int factor) {
        // Blocking work: 60 ms that no optimiser can delete (a busy loop computing nothing
        // would be, and the loop would then have ticked 0 times).
        std::this_thread::sleep_for(60ms);
        return width / factor;
    });
    int ticks = 0;
    kaa::Timer ticker([&ticks] { ++ticks; });
    ticker.start(1ms);
    int width = co_await scale(4000, 4);  // the loop (and the ticker) keep running meanwhile
    ticker.stop();
    std::cout << "thumbnail width " << width << ", scaled on a pool thread while the loop ran "
              << "a 1 ms timer " << ticks << " times\n";
    std::cout << "back on the main thread: " << std::boolalpha << kaa::is_mainthread() << '\n';
}

void part_threads() {
    std::cout << "\n== 5. Threads\n";
    show_thumbnail().wait();
}

// ---------------------------------------------------------------- 6. The main loop
void part_main_loop() {
    std::cout << "\n== 6. The main loop\n";
    kaa::OneShotTimer([] {
        std::cout << "stopping the loop from a timer\n";
        kaa::main::stop();
    }).start(20ms);
    kaa::main::signals().shutdown.connect([] { std::cout << "shutdown signal\n"; });
    kaa::main::run();
    std::cout << "run() returned; is_stopped=" << std::boolalpha << kaa::main::is_stopped() << '\n';
}

}  // namespace

int main() {
    std::cout << "kaa for C++ — a tour\n";
    part_inprogress();
    part_signals();
    part_timers();
    part_coroutines();
    part_threads();
    part_main_loop();
    return 0;
}
