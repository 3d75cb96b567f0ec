// A tour of kaa for C++, in ten parts of a few lines of output each: InProgress, signals,
// timers, time-sliced coroutines, a coroutine awaiting others, a threaded job with a progress
// bar, a local echo server, the seed's fetch_page, a timeout and an abort cascade, and a clean
// shutdown on Ctrl-C. `make demo` builds and runs it; ctest runs it as example_tour. It takes
// about two seconds and exits 0. Each part prints a heading, then what it shows.

#include "echo_server.hpp"
#include "fetch_page.hpp"

#include <kaa/kaa.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

// ---------------------------------------------------------------- 1. InProgress
// A result that is a future, a one-shot signal and an abort handle at once.
void part_inprogress() {
    std::cout
        << "\n== 1. InProgress: a result that is a future, a one-shot signal and an abort handle\n";
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
    std::cout << "\n== 2. Signals: bound arguments, once-connections, the next emission as an "
                 "InProgress\n";
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
    std::cout << "\n== 3. Timers and delay: a repeating timer that stops itself\n";
    int ticks = 0;
    kaa::Timer ticker([&ticks] {
        std::cout << "tick " << ++ticks << '\n';
        return ticks < 3;  // returning false stops a repeating timer
    });
    ticker.start(10ms);
    kaa::delay(50ms).wait();  // wait() keeps the loop running until the delay finished
    std::cout << "ticker active after 3 ticks: " << std::boolalpha << ticker.active() << '\n';
}

// ---------------------------------------------------------------- 4. Time-sliced coroutines
// Loop iterations, counted through the loop's `step` signal (emitted after each iteration).
int iteration = 0;
bool looping = false;  // false during the calls: the eager first steps

kaa::Coroutine<int> count_slowly(std::string name, int n) {
    int sum = 0;
    for (int i = 1; i <= n; ++i) {
        sum += i;
        std::cout << "  " << name << ": step " << i;
        if (looping) {
            std::cout << " in loop iteration " << iteration + 1 << '\n';
        } else {
            std::cout << " inside the call (coroutines start eagerly)\n";
        }
        co_await kaa::NotFinished;  // a time slice for everyone else: resume next iteration
    }
    co_return sum;
}

void part_time_slices() {
    std::cout << "\n== 4. Time-sliced coroutines: `co_await kaa::NotFinished` yields to the loop\n";
    kaa::ScopedConnection counter(kaa::main::signals().step.connect([] { ++iteration; }));
    iteration = 0;
    std::cout << "a (3 steps) and b (2 steps) take turns, one step per loop iteration:\n";
    auto a = count_slowly("a", 3);
    auto b = count_slowly("b", 2);
    looping = true;
    int sum_a = a.wait();  // wait() runs the loop until `a` finished
    int sum_b = b.wait();
    looping = false;
    std::cout << "results: a=" << sum_a << " b=" << sum_b << ", after " << iteration
              << " loop iterations (a's co_return ran in the third)\n";
}

// ---------------------------------------------------------------- 5. Awaiting others
kaa::Coroutine<std::string> lookup(std::string name, std::chrono::milliseconds latency) {
    co_await kaa::delay(latency);  // stands for a query that takes `latency`
    co_return name + "@example.org";
}

kaa::Coroutine<std::string> both_addresses() {
    auto alice = lookup("alice", 60ms);  // both lookups start now and run side by side
    auto bob = lookup("bob", 40ms);
    std::string a = co_await alice;  // suspends until alice's lookup finished
    std::string b = co_await bob;    // already finished: no suspension
    co_return a + ", " + b;
}

void part_awaiting() {
    std::cout << "\n== 5. A coroutine awaiting others: both_addresses() awaits two lookups\n";
    auto start = std::chrono::steady_clock::now();
    std::string addresses = both_addresses().wait();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    std::cout << "both_addresses() = \"" << addresses << "\" after " << ms
              << " ms: the lookups (60 and 40 ms) overlapped\n";
}

// ---------------------------------------------------------------- 6. Threads
// Blocking work runs on a pool thread and reports progress; the loop keeps running meanwhile.
kaa::Coroutine<> convert_file() {
    auto convert = kaa::threaded({.pool = "converter", .progress = true},
                                 [](kaa::InProgressStatus& status, int chunks) {
                                     status.set(0, chunks);
                                     for (int i = 0; i < chunks; ++i) {
                                         // A blocking call (sleeping stands for it: a busy loop
                                         // would compete with the loop for a CPU).
                                         std::this_thread::sleep_for(25ms);
                                         status.update();  // emitted on the loop thread
                                     }
                                     return chunks * 64;  // KiB converted
                                 });
    // The loop's own work while the thread runs: a 1 ms timer counting its calls.
    int ticks = 0;
    kaa::Timer ticker([&ticks] { ++ticks; });
    ticker.start(1ms);
    auto job = convert(20);
    // On a terminal the bar is redrawn in place; elsewhere (ctest's log) every quarter is a line.
    const bool terminal = ::isatty(STDOUT_FILENO);
    job.progress()->connect([&ticks, terminal](const kaa::InProgressStatus& s) {
        const int percent = static_cast<int>(s.percentage());
        if (!terminal && percent % 25 != 0) return;
        std::cout << (terminal ? "\r  " : "  ") << s.get_progressbar(32) << ' ' << percent
                  << "%   loop timer ran " << ticks << " times" << (terminal ? "" : "\n")
                  << std::flush;
    });
    int kib = co_await job;  // the loop (and the ticker) keep running meanwhile
    ticker.stop();
    if (terminal) std::cout << '\n';
    std::cout << "converted " << kib
              << " KiB on a pool thread; meanwhile the loop ran a 1 ms timer " << ticks
              << " times.\nBack on the main thread after co_await: " << std::boolalpha
              << kaa::is_mainthread() << '\n';
}

void part_threads() {
    std::cout << "\n== 6. A threaded job with a live progress bar while the loop keeps ticking\n";
    convert_file().wait();
}

// ---------------------------------------------------------------- 7. Echo server
kaa::Coroutine<std::string> echo_client(std::string address, std::string message) {
    kaa::Socket socket;
    co_await socket.connect(address);
    co_await socket.write(message + "\n");
    std::string reply = co_await socket.readline();  // the line, with its '\n'
    co_await socket.close();
    reply.pop_back();
    co_return reply;
}

void part_echo() {
    std::cout << "\n== 7. A TCP echo server on 127.0.0.1 and three clients, all coroutines on one "
                 "thread\n";
    kaa::Socket server;
    server.listen("127.0.0.1:0");  // port 0: any free port
    example::serve_echo_clients(server);
    const std::string address = server.local().to_string();
    std::cout << "server listening on " << address
              << "; one serve_echo() coroutine (examples/echo_server.hpp) per client\n";
    std::vector<kaa::Coroutine<std::string>> clients;
    for (std::string message : {"hello", "kaa", "for C++"}) {
        clients.push_back(echo_client(address, message));
    }
    for (auto& client : clients) std::cout << "client got back: '" << client.wait() << "'\n";
    server.close();
}

// ---------------------------------------------------------------- 8. fetch_page
void part_fetch_page() {
    std::cout << "\n== 8. The seed's fetch_page (examples/fetch_page.hpp): a coroutine, then "
                 "callbacks\n";
    example::run_fetch_page(std::cout);
}

// ---------------------------------------------------------------- 9. Timeout and abort
kaa::Coroutine<int> slow_answer() {
    try {
        co_await kaa::delay(10s);
    } catch (const kaa::InProgressAborted& e) {
        std::cout << "  slow_answer(): aborted at its co_await (" << e.what() << ")\n";
        throw;
    }
    co_return 42;
}

kaa::Coroutine<> worker() {
    auto d = kaa::delay(10s);
    d.connect_abort([](const kaa::InProgressAborted&) {
        std::cout << "  1. delay(10s): aborted, because the coroutine awaiting it is aborted\n";
    });
    try {
        co_await d;
    } catch (const kaa::InProgressAborted&) {
        std::cout << "  2. worker(): InProgressAborted thrown at its co_await (delay finished="
                  << std::boolalpha << d.finished() << ")\n";
        throw;  // not caught: worker() fails with it
    }
}

kaa::Coroutine<> manager() {
    kaa::Coroutine<> w = worker();
    try {
        co_await w;
    } catch (const kaa::InProgressAborted&) {
        std::cout << "  3. manager(): InProgressAborted thrown at its co_await (worker failed="
                  << std::boolalpha << w.failed() << "); caught here\n";
    }
}

void part_timeout_abort() {
    std::cout << "\n== 9. A timeout, and an abort that cascades\n";
    std::cout << "slow_answer() (10 s) with timeout(50ms, abort=true):\n";
    auto answer = slow_answer();
    try {
        answer.timeout(50ms, {}, true).wait();
    } catch (const kaa::TimeoutException&) {
        std::cout << "  timeout(): TimeoutException after 50 ms; slow_answer() failed="
                  << std::boolalpha << answer.failed() << ", so its 10 s delay is gone too\n";
    }

    std::cout << "manager() awaits worker(), which awaits delay(10s); manager().abort():\n";
    auto m = manager();
    m.abort();  // manager catches the abort, so abort() does not rethrow it
    std::cout << "  4. manager failed=" << std::boolalpha << m.failed()
              << ": an aborted coroutine ends failed even if it caught the abort\n"
              << "The cascade: abort() first aborts what the coroutine awaits, if that is "
                 "abortable and\nnothing else waits for it (co_await ip.noabort() prevents "
                 "that), then throws InProgressAborted at the co_await\n";
}

// ---------------------------------------------------------------- 10. Shutdown
kaa::Coroutine<> waits_forever() {
    struct Cleanup {
        ~Cleanup() { std::cout << "  waits_forever(): its locals' destructors ran\n"; }
    } cleanup;
    try {
        co_await kaa::delay(1h);
    } catch (const kaa::InProgressAborted&) {
        std::cout << "  waits_forever(): unwound with InProgressAborted at its co_await\n";
        throw;
    }
}

void part_shutdown() {
    std::cout << "\n== 10. A clean shutdown on Ctrl-C (SIGINT)\n";
    // A SIGINT that was ignored (e.g. the tour started in the background by a shell) would
    // not reach kaa, which handles SIGINT only over the default disposition: restore it.
    struct sigaction current {};
    if (::sigaction(SIGINT, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) {
        std::signal(SIGINT, SIG_DFL);
    }
    const bool interactive = ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO);
    const auto grace = interactive ? 2s : 100ms;
    bool sent_ourselves = false;
    kaa::OneShotTimer send_sigint([&sent_ourselves] {
        sent_ourselves = true;
        ::kill(::getpid(), SIGINT);
    });
    send_sigint.start(grace);
    // A safety net: should SIGINT never arrive, stop the loop anyway.
    kaa::OneShotTimer safety([] { kaa::main::stop(); });
    safety.start(grace + 2s);

    auto waiter = waits_forever();
    kaa::main::signals().shutdown.connect(
        [] { std::cout << "  main::signals().shutdown: the loop is shutting down\n"; });
    if (interactive) {
        std::cout << "kaa::main::run(): press Ctrl-C within 2 s, or the tour sends itself "
                     "SIGINT\n";
    } else {
        std::cout << "kaa::main::run(); in 100 ms the tour sends itself SIGINT, as Ctrl-C would\n";
    }
    kaa::main::run();
    std::cout << "run() returned normally: "
              << (sent_ourselves ? "the SIGINT the tour sent" : "your Ctrl-C")
              << " became kaa::SystemExit, which stopped the loop.\nThe shutdown sequence "
                 "emitted `shutdown`, stopped the thread pools and unwound the suspended "
                 "coroutine (failed="
              << std::boolalpha << waiter.failed() << ").\n";
}

}  // namespace

int main() {
    std::cout << "kaa for C++ — a tour\n";
    part_inprogress();
    part_signals();
    part_timers();
    part_time_slices();
    part_awaiting();
    part_threads();
    part_echo();
    part_fetch_page();
    part_timeout_abort();
    part_shutdown();
    return 0;
}
