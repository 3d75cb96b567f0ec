// kaa::Process: child processes as straight-line code (docs/semantics.md [io.process]).
// A coroutine talks to `cat` through its stdin and stdout, runs a shell command whose output
// goes to stdout and stderr (merged by readline()), and stops a child that ignores SIGTERM.
// Exits 0.
//
// Expected output:
//   cat says: hello, cat
//   cat exited with 0
//   sh: to stdout
//   sh: to stderr
//   sh exited with 3
//   stubborn child ready, stopping it
//   stubborn child ended with -9 (SIGKILL after the 200 ms grace)

#include <kaa/coroutine.hpp>
#include <kaa/main.hpp>
#include <kaa/process.hpp>

#include <chrono>
#include <iostream>
#include <string>

using namespace std::chrono_literals;

namespace {

kaa::Coroutine<> demo(int* status) {
    // 1. A conversation with cat.
    kaa::Process cat({"cat"});
    auto cat_code = cat.start();
    cat.write("hello, cat\n");
    std::string line = co_await cat.readline();
    std::cout << "cat says: " << line;
    cat.close_stdin();  // cat ends at EOF
    std::cout << "cat exited with " << co_await cat_code << "\n";

    // 2. A shell command line; readline() takes lines from stdout and stderr, skipping a
    //    stream once it is closed, and gives "" when both are.
    kaa::Process sh(kaa::ShellCommand{"echo to stdout; echo to stderr >&2; exit 3"});
    auto sh_code = sh.start();
    std::string out = co_await sh.readline();
    std::string err = co_await sh.readline();
    // The two streams are separate pipes: print in a fixed order.
    if (out.find("stderr") != std::string::npos) std::swap(out, err);
    std::cout << "sh: " << out << "sh: " << err;
    std::cout << "sh exited with " << co_await sh_code << "\n";

    // 3. stop(): SIGTERM, then SIGKILL once the grace period passed.
    kaa::Process stubborn(kaa::ShellCommand{"trap '' TERM; echo ready; exec sleep 30"});
    auto stubborn_code = stubborn.start();
    co_await stubborn.readline();  // the trap is set
    std::cout << "stubborn child ready, stopping it\n";
    co_await stubborn.stop(200ms);
    int code = co_await stubborn_code;
    std::cout << "stubborn child ended with " << code << " (SIGKILL after the 200 ms grace)\n";
    *status = code == -9 ? 0 : 1;
}

}  // namespace

int main() {
    int status = 1;
    auto d = demo(&status);
    d.connect_both([](auto&&...) { kaa::main::stop(); });
    kaa::main::run();
    if (d.failed()) {
        std::cerr << "failed\n";
        return 1;
    }
    return status;
}
