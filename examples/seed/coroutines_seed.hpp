#pragma once
// The examples of the seed document (seed/coroutines.rst) as C++, one function per example.
// Each examples/seed/<name>.cpp program calls one of them with std::cout; the test
// tests/seed_examples_test.cpp calls them with a std::ostringstream and checks the text.
//
// Each function sets its example up, runs the main loop (kaa::main::run()) and returns when
// the example is over: the example stops the loop itself, where the seed's program would run
// forever. Durations are parameters (the seed's values by default) so the test runs fast.
//
// Translation notes:
//  * `yield x` that waits is `co_await x`; `yield value` that ends is `co_return value`.
//  * C++ forbids co_await inside a catch handler; none of these examples needs one.
//  * Python's bare `except:` is `catch (...)`; kaa's InProgressAborted derives from
//    kaa::BaseException, not std::exception, exactly as Python's BaseException.
//  * The two fetch_page examples (socket I/O) are in examples/fetch_page.hpp.
//
// Threads: main-loop thread only (everything runs inside kaa::main::run()).

#include <kaa/kaa.hpp>

#include <chrono>
#include <optional>
#include <ostream>
#include <string>

namespace seed {

using namespace std::chrono_literals;

// ---------------------------------------------------------------- do_something

/// Stands in for the seed's do_something_expensive(): some CPU work.
inline void do_something_expensive() {
    volatile unsigned long sum = 0;
    for (unsigned long i = 0; i < 100'000; ++i) sum = sum + i;
}

/// @kaa.coroutine() def do_something(): ten time slices, then 42.
inline kaa::Coroutine<int> do_something() {
    for (int i = 0; i < 10; ++i) {
        do_something_expensive();
        co_await kaa::NotFinished;  // let the main loop run other tasks
    }
    co_return 42;
}

/// do_something().connect(handle_result); kaa.main.run()
/// Prints "do_something() finished with result: 42".
inline void run_do_something(std::ostream& out) {
    auto handle_result = [&out](int result) {
        out << "do_something() finished with result: " << result << '\n';
        kaa::main::stop();  // the seed's program runs on; this one ends here
    };
    do_something().connect(handle_result);
    kaa::main::run();
}

// ---------------------------------------------------------------- do_something_else

/// @kaa.coroutine() def do_something_else(): waits for do_something() and finishes with
/// True or False; if it failed, prints "do_something failed" and finishes with None
/// (std::nullopt).
inline kaa::Coroutine<std::optional<bool>> do_something_else(std::ostream& out) {
    int result = 0;
    try {
        result = co_await do_something();
    } catch (...) {
        out << "do_something failed\n";
        co_return std::nullopt;
    }
    co_return result ? true : false;
}

/// Runs do_something_else() and prints what it finished with:
/// "do_something_else() finished with result: true".
inline void run_do_something_else(std::ostream& out) {
    do_something_else(out).connect([&out](const std::optional<bool>& result) {
        out << "do_something_else() finished with result: "
            << (result ? (*result ? "true" : "false") : "none") << '\n';
        kaa::main::stop();
    });
    kaa::main::run();
}

// ---------------------------------------------------------------- delay_print, aborted

/// @kaa.coroutine() def delay_print(s): yield kaa.delay(5); print s
inline kaa::Coroutine<> delay_print(std::ostream& out, std::string s,
                                    std::chrono::nanoseconds delay = 5s) {
    co_await kaa::delay(delay);
    out << s << '\n';
}

/// delay_print('Hello Kaa').abort(): delay_print does not catch the abort, so abort() throws
/// it; the seed's program would die of it, this one catches it to show it.
/// Prints "abort() raised InProgressAborted: Coroutine aborted".
inline void run_delay_print_aborted(std::ostream& out) {
    try {
        delay_print(out, "Hello Kaa").abort();
        out << "abort() returned\n";
    } catch (const kaa::InProgressAborted& e) {
        out << "abort() raised InProgressAborted: " << e.what() << '\n';
    }
    kaa::main::post([] { kaa::main::stop(); });  // nothing is left to do
    kaa::main::run();
}

// ---------------------------------------------------------------- delay_print, catching

/// delay_print catching the abort: "Nothing special needed to abort this."
inline kaa::Coroutine<> delay_print_catching(std::ostream& out, std::string s,
                                             std::chrono::nanoseconds delay = 5s) {
    bool aborted = false;
    try {
        co_await kaa::delay(delay);
    } catch (const kaa::InProgressAborted&) {
        // Nothing special needed to abort this.
        aborted = true;
    }
    if (!aborted) out << s << '\n';  // Python's `else:` clause
}

/// Aborts the catching delay_print: abort() returns normally and nothing is printed by it.
/// Prints "abort() returned normally; delay_print() is finished: true, failed: true".
inline void run_delay_print_catching(std::ostream& out) {
    auto ip = delay_print_catching(out, "Hello Kaa");
    ip.abort();
    out << std::boolalpha
        << "abort() returned normally; delay_print() is finished: " << ip.finished()
        << ", failed: " << ip.failed() << '\n';
    kaa::main::post([] { kaa::main::stop(); });
    kaa::main::run();
}

// ---------------------------------------------------------------- delay_print, noabort

/// delay_print yielding kaa.delay(5).noabort(): the abort does not reach the delay, so
/// e.inprogress (the noabort wrapper) is not finished.
inline kaa::Coroutine<> delay_print_noabort(std::ostream& out, std::string s,
                                            std::chrono::nanoseconds delay = 5s) {
    bool aborted = false;
    try {
        co_await kaa::delay(delay).noabort();
    } catch (const kaa::InProgressAborted& e) {
        out << std::boolalpha << e.inprogress().finished() << " will be false\n";
        aborted = true;
    }
    if (!aborted) out << s << '\n';
}

/// Aborts the noabort delay_print. Prints "false will be false".
inline void run_delay_print_noabort(std::ostream& out) {
    delay_print_noabort(out, "Hello Kaa").abort();
    // The delay lives on (and would fire into nothing); the example is over.
    kaa::main::post([] { kaa::main::stop(); });
    kaa::main::run();
}

// ---------------------------------------------------------------- singleton and master

/// The body of singleton(): waits; prints "singleton() aborted" if that wait is aborted.
inline kaa::Coroutine<> singleton_body(std::ostream& out, std::chrono::nanoseconds delay) {
    try {
        co_await kaa::delay(delay);
    } catch (const kaa::InProgressAborted&) {
        out << "singleton() aborted\n";
    }
}

/// @kaa.coroutine(policy=kaa.POLICY_SINGLETON) def singleton(): while it runs, calling it
/// again returns the same instance (arguments ignored), so `singleton().abort()` aborts the
/// one master() waits for.
inline const auto singleton = kaa::coroutine({.policy = kaa::POLICY_SINGLETON}, &singleton_body);

/// @kaa.coroutine() def master(): waits for singleton(); reports why it was aborted.
inline kaa::Coroutine<> master(std::ostream& out, std::chrono::nanoseconds singleton_delay) {
    auto child = singleton(out, singleton_delay);
    try {
        co_await child;
    } catch (const kaa::InProgressAborted& e) {
        // Python prints the origin's repr; here: which InProgress it is.
        out << "master() aborted because "
            << (e.origin() == child ? "singleton()" : "something else") << " aborted\n";
    }
}

/// master(); kaa.OneShotTimer(singleton().abort).start(1)
/// Prints "singleton() aborted" then "master() aborted because singleton() aborted".
inline void run_singleton_master(std::ostream& out, std::chrono::nanoseconds abort_after = 1s,
                                 std::chrono::nanoseconds singleton_delay = 5s) {
    auto m = master(out, singleton_delay);
    m.connect_both([] { kaa::main::stop(); }, [](std::exception_ptr) { kaa::main::stop(); });
    kaa::OneShotTimer([&out, singleton_delay] {
        singleton(out, singleton_delay).abort();
    }).start(abort_after);
    kaa::main::run();
}

}  // namespace seed
