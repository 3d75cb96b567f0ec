// Debugging a program that hangs, with kaa::debug: a request handler waits on a worker that
// waits on a pipe nobody writes to, and a heartbeat sleeps; after 100 ms the program prints
// pending() — every suspended coroutine as a tree of async backtraces — and a callback that
// blocks the loop for 200 ms is named by the stall detector. Then it stops the loop.
// Runs in about half a second and exits 0.
//
// Creation and co_await places appear in builds without NDEBUG, or with -DKAA_DEBUG_AIDS=ON
// (kaa/debug.hpp); without them the tree still shows what each coroutine waits on.

#include <kaa/kaa.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

// Waits for a line on the channel, which never comes: the "hang".
kaa::Coroutine<std::string> worker(kaa::IOChannel* input) {
    std::string line = co_await input->readline();
    co_return line;
}

kaa::Coroutine<> handle_request(kaa::IOChannel* input) {
    std::string answer = co_await worker(input);
    std::cout << "answer: " << answer << '\n';
}

kaa::Coroutine<> heartbeat() {
    for (;;) co_await kaa::delay(1h);
}

}  // namespace

int main() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return 1;
    kaa::IOChannel input(fds[0]);  // the write end stays open and silent

    auto request = handle_request(&input);
    auto beat = heartbeat();

    // 1. What is everybody waiting for?
    kaa::OneShotTimer inspect([] {
        std::cout << "debug build aids: " << (kaa::debug::aids_enabled() ? "on" : "off")
                  << "\npending coroutines:\n"
                  << kaa::debug::to_string(kaa::debug::pending());
    });
    inspect.start(100ms);

    // 2. Who holds the loop? A callback that blocks it for 200 ms is reported by name.
    kaa::debug::set_stall_threshold(50ms, [](const kaa::debug::Stall& s) {
        std::cout << "stall: " << s.what << " held the loop for "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(s.duration).count()
                  << " ms\n";
    });
    kaa::OneShotTimer blocker([] { std::this_thread::sleep_for(200ms); });
    blocker.start(150ms);

    kaa::OneShotTimer done([] { kaa::main::stop(); });
    done.start(450ms);
    kaa::main::run();
    kaa::debug::set_stall_threshold(std::nullopt);
    ::close(fds[1]);
    return 0;
}
