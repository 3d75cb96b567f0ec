// IOMonitor: watch a file descriptor from the main loop.
//
// A pipe's read end is watched for readability; a timer writes three messages into it. The
// monitor's callback reads what arrived and returns false (which unregisters it) after the
// third one, then the loop is stopped.

#include <kaa/io.hpp>
#include <kaa/main.hpp>
#include <kaa/timer.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

using namespace std::chrono_literals;

int main() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        std::perror("pipe2");
        return 1;
    }
    const int read_end = fds[0];
    const int write_end = fds[1];

    int received = 0;
    kaa::IOMonitor monitor([&] {
        char buf[64];
        ssize_t n = ::read(read_end, buf, sizeof buf);
        if (n <= 0) return true;  // spurious wake-up: keep watching
        std::cout << "readable: '" << std::string(buf, static_cast<std::size_t>(n)) << "'\n";
        if (++received < 3) return true;
        kaa::main::stop();
        return false;  // unregisters the monitor
    });
    monitor.register_fd(read_end, kaa::IO_READ);

    int sent = 0;
    kaa::Timer writer([&] {
        std::string msg = "message " + std::to_string(++sent);
        ssize_t n = ::write(write_end, msg.data(), msg.size());
        (void)n;
        return sent < 3;  // a repeating timer stops when its callback returns false
    });
    writer.start(10ms);

    kaa::main::run();
    std::cout << "monitor active after the third message: " << std::boolalpha << monitor.active()
              << '\n';
    ::close(read_end);
    ::close(write_end);
    return 0;
}
