#pragma once
// The IOMonitor example (examples/io.cpp) as a function: the program calls it with std::cout,
// tests/io_test.cpp calls it with a std::ostringstream and checks that it ends and what it
// prints.
//
// A pipe's read end is watched for readability; a timer writes three messages into it, each
// ending with '\n' — the last two in one tick, so they usually arrive in one read. The
// monitor's callback reads what arrived and returns false (which unregisters it) after the
// third message, then the loop is stopped.
//
// Threads: main-loop thread only (everything runs inside kaa::main::run()).

#include <kaa/io.hpp>
#include <kaa/main.hpp>
#include <kaa/timer.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ostream>
#include <string>

namespace example {

inline int run_io(std::ostream& out) {
    using namespace std::chrono_literals;
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        std::perror("pipe2");
        return 1;
    }
    const int read_end = fds[0];
    const int write_end = fds[1];

    // A read returns whatever has arrived: part of a message, or several. Count messages (split
    // on the delimiter), not reads; keep an incomplete message for the next read.
    std::string pending;
    int received = 0;
    kaa::IOMonitor monitor([&] {
        char buf[64];
        ssize_t n = ::read(read_end, buf, sizeof buf);
        if (n <= 0) return true;  // spurious wake-up: keep watching
        pending.append(buf, static_cast<std::size_t>(n));
        for (std::size_t end; (end = pending.find('\n')) != std::string::npos;) {
            out << "message: '" << pending.substr(0, end) << "'\n";
            pending.erase(0, end + 1);
            ++received;
        }
        if (received < 3) return true;
        kaa::main::stop();
        return false;  // unregisters the monitor
    });
    monitor.register_fd(read_end, kaa::IO_READ);

    int sent = 0;
    auto send = [&] {
        std::string msg = "message " + std::to_string(++sent) + "\n";
        ssize_t n = ::write(write_end, msg.data(), msg.size());
        (void)n;
    };
    kaa::Timer writer([&] {
        send();
        if (sent == 2) send();  // two messages in one tick: one read may return both
        return sent < 3;        // a repeating timer stops when its callback returns false
    });
    writer.start(10ms);

    kaa::main::run();
    out << "monitor active after the third message: " << std::boolalpha << monitor.active() << '\n';
    ::close(read_end);
    ::close(write_end);
    return 0;
}

}  // namespace example
