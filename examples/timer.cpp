// Timers in kaa for C++: a repeating Timer, a OneShotTimer, a WeakTimer whose owner dies, a
// `timed` function, and an IOMonitor, all driven by main::run() until a timer calls stop().
// Runs in about a quarter of a second and exits 0.

#include <kaa/kaa.hpp>

#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>

using namespace std::chrono_literals;

namespace {

struct Sensor {
    int readings = 0;
    void poll() { std::cout << "sensor reading #" << ++readings << '\n'; }
};

}  // namespace

int main() {
    // A repeating timer: every 20 ms until its callback returns false.
    int ticks = 0;
    kaa::Timer ticker([&] {
        std::cout << "tick " << ++ticks << '\n';
        return ticks < 5;  // false stops it; void or true keeps it running
    });
    ticker.start(20ms);

    // A weak timer: runs while its owner lives, then stops by itself.
    auto sensor = std::make_shared<Sensor>();
    kaa::WeakTimer poller(std::weak_ptr<Sensor>(sensor), &Sensor::poll);
    poller.start(30ms);
    kaa::OneShotTimer([&] {
        std::cout << "sensor removed; the weak timer is now "
                  << (poller.active() ? "active" : "inactive") << " -> ";
        sensor.reset();
        std::cout << (poller.active() ? "active" : "inactive") << '\n';
    }).start(100ms);  // a started timer lives on without its handle

    // kaa's @timed: calling it starts a timer; `once` ignores calls while that one is active.
    auto reminder = kaa::timed(
        50ms, [](const char* what) { std::cout << "reminder: " << what << '\n'; },
        kaa::TimedPolicy::once, kaa::TimedKind::oneshot);
    std::cout << std::boolalpha;
    std::cout << "first reminder accepted: " << reminder("water the plants") << '\n';
    std::cout << "second reminder accepted: " << reminder("ignored") << '\n';

    // An IOMonitor: called (with its bound arguments only) when the pipe becomes readable.
    int fds[2];
    if (::pipe(fds) != 0) return 1;
    kaa::IOMonitor monitor(
        [&](const char* name) {
            char c;
            if (::read(fds[0], &c, 1) == 1) std::cout << name << " read '" << c << "'\n";
            return false;  // one byte is enough: unregister
        },
        "monitor");
    monitor.register_fd(fds[0], kaa::IO_READ);
    kaa::OneShotTimer([&] { (void)!::write(fds[1], "k", 1); }).start(70ms);

    // Stop the loop after 250 ms; run() then emits shutdown and shutdown_after and returns.
    kaa::OneShotTimer([] { kaa::main::stop(); }).start(250ms);
    kaa::main::signals().shutdown.connect([] { std::cout << "shutdown\n"; });
    kaa::main::run();

    std::cout << "run() returned: " << ticks << " ticks, monitor "
              << (monitor.active() ? "active" : "unregistered") << '\n';
    ::close(fds[0]);
    ::close(fds[1]);
    return 0;
}
