// B5 echo and B7 idle connections for kaa_bench.cpp (a separate translation unit, so that the
// I/O code does not change how the compiler inlines the B1–B8 scenarios): the kaa side of the peers' I/O scenarios
// (../shared/bench-peers/README.md), driven by the peers' own load generators.
//
//   bench_kaa_bench B5_echo [N]       serves echo on 127.0.0.1 (one coroutine per connection,
//                                     as examples/echo_server.cpp) and runs `echo_client PORT 64
//                                     N 60 64`; prints `B5_echo kaa <rt/s> rt/s`
//   bench_kaa_bench B5_server PORT    the same server until SIGTERM (for compare.sh's echo_run)
//   bench_kaa_bench B7_idle [N]       accepts N connections from `idle_client PORT N 60`, each
//                                     with a coroutine suspended in read(); 200 ms after the
//                                     N-th accept prints B7_idle_rss (B/conn over the RSS before
//                                     listening), B7_idle_accept (first to N-th accept, ms) and
//                                     B7_idle_accept_cpu (this process's CPU time, ms)
//
// The clients are found through KAA_BENCH_PEERS_BIN (a directory) or else compare.sh's
// build/bench/peers/build; without them the scenario prints `n/a no_<client>`. Pinning as the
// peers: this process on CPU 0, the client on CPU 1 (when taskset works).
//
// Threads: main-loop thread only.

#include "kaa_bench_io.hpp"

#include "../../examples/echo_server.hpp"

#include <kaa/coroutine.hpp>
#include <kaa/io_channel.hpp>
#include <kaa/main.hpp>
#include <kaa/socket.hpp>
#include <kaa/timer.hpp>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

extern char** environ;

namespace kaa_bench_io {

/// The path of a peer client, or "" if it is not there.
inline std::string peer_client(const char* name) {
    std::vector<std::string> dirs;
    if (const char* d = std::getenv("KAA_BENCH_PEERS_BIN")) dirs.emplace_back(d);
    dirs.emplace_back("build/bench/peers/build");
    for (const auto& d : dirs) {
        std::string p = d + "/" + name;
        if (::access(p.c_str(), X_OK) == 0) return p;
    }
    return "";
}

/// This process on CPU 0 (the server's CPU in the peers' runs), when there are two CPUs.
inline void pin_self_cpu0() {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    ::sched_setaffinity(0, sizeof set, &set);
}

/// Starts `argv` (pinned to CPU 1 through taskset when it works) with its stdout on a pipe;
/// returns the pid and sets `out_fd`.
inline pid_t spawn_client(std::vector<std::string> argv, int& out_fd) {
    if (std::system("taskset -c 1 true >/dev/null 2>&1") == 0) {
        argv.insert(argv.begin(), {"taskset", "-c", "1"});
    }
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_t pid = -1;
    if (::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    out_fd = fds[0];
    return pid;
}

/// Everything the client printed until it closed its stdout (read through an IOChannel).
inline kaa::Coroutine<std::string> read_all(std::shared_ptr<kaa::IOChannel> ch) {
    std::string all;
    for (;;) {
        std::string chunk = co_await ch->read();
        if (chunk.empty()) break;
        all += chunk;
    }
    co_return all;
}

/// The server of examples/echo_server.cpp: one coroutine per connection.
inline void serve_echo(kaa::Socket& server) { example::serve_echo_clients(server); }

/// `B5_server PORT`: echo until SIGTERM.
int b5_server(long port) {
    kaa::Socket server;
    server.listen("127.0.0.1:" + std::to_string(port), 1024);
    serve_echo(server);
    kaa::main::run();
    return 0;
}

/// `B5_echo [N]`: the server here, echo_client in a child process.
int b5_echo(long n) {
    const std::string client = peer_client("echo_client");
    if (client.empty()) {
        std::printf("B5_echo kaa n/a no_echo_client\n");
        return 0;
    }
    pin_self_cpu0();
    kaa::Socket server;
    server.listen("127.0.0.1:0", 1024);
    serve_echo(server);
    int out_fd = -1;
    pid_t pid = spawn_client(
        {client, std::to_string(server.local().port), "64", std::to_string(n), "60", "64"}, out_fd);
    if (pid < 0) {
        std::fprintf(stderr, "kaa_bench: cannot start %s\n", client.c_str());
        return 1;
    }
    auto out = std::make_shared<kaa::IOChannel>(out_fd);
    std::string text;
    read_all(out).connect([&](const std::string& t) {
        text = t;
        kaa::main::stop();
    });
    kaa::main::run();
    int status = 0;
    ::waitpid(pid, &status, 0);
    double rt = 0, secs = 0, rate = 0;
    if (std::sscanf(text.c_str(), "rt %lf secs %lf rate %lf", &rt, &secs, &rate) != 3) {
        std::fprintf(stderr, "kaa_bench: echo_client said: %s\n", text.c_str());
        return 1;
    }
    std::printf("B5_echo kaa %.3f rt/s\n", rate);
    return 0;
}

inline long cpu_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1'000'000'000L + ts.tv_nsec;
}

inline long wall_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1'000'000'000L + ts.tv_nsec;
}

inline long rss_kib() {
    long size = 0, resident = 0;
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
    std::fclose(f);
    return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

/// An idle connection: a coroutine suspended in read() until the client goes away.
inline kaa::Coroutine<> idle(std::shared_ptr<kaa::Socket> client) {
    try {
        while (!(co_await client->read()).empty()) {
        }
    } catch (const std::exception&) {
    }
}

/// `B7_idle [N]`: N idle connections from idle_client.
int b7_idle(long n) {
    const std::string client = peer_client("idle_client");
    if (client.empty()) {
        std::printf("B7_idle_rss kaa n/a no_idle_client\n");
        return 0;
    }
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    if (static_cast<long>(rl.rlim_cur) < n + 64) {
        std::printf("B7_idle_rss kaa n/a ulimit_n_too_low\n");
        return 0;
    }
    pin_self_cpu0();
    using namespace std::chrono_literals;
    long base_kib = 0, base_cpu = 0, t_first = 0, t_last = 0, cpu_last = 0, accepted = 0;
    double rss_per_conn = 0;
    pid_t pid = -1;
    int out_fd = -1;
    kaa::Socket server;
    kaa::OneShotTimer report([&] {
        rss_per_conn = static_cast<double>(rss_kib() - base_kib) * 1024.0 / static_cast<double>(n);
        kaa::main::stop();
    });
    server.new_client_signal().connect([&](const std::shared_ptr<kaa::Socket>& c) {
        if (accepted == 0) t_first = wall_ns();
        idle(c);  // the coroutine owns the connection
        if (++accepted == n) {
            t_last = wall_ns();
            cpu_last = cpu_ns();
            report.start(200ms);
        }
    });
    // Measured from inside the running loop, as the other scenarios are.
    kaa::OneShotTimer kick([&] {
        base_kib = rss_kib();
        base_cpu = cpu_ns();
        server.listen("127.0.0.1:0", 4096);
        pid = spawn_client({client, std::to_string(server.local().port), std::to_string(n), "60"},
                           out_fd);
        if (pid < 0) kaa::main::stop();
    });
    kick.start(0s);
    kaa::main::run();
    server.close();
    if (pid > 0) {
        ::kill(pid, SIGTERM);
        ::waitpid(pid, nullptr, 0);
    }
    if (out_fd >= 0) ::close(out_fd);
    if (accepted < n) {
        std::fprintf(stderr, "kaa_bench: B7: only %ld of %ld connections\n", accepted, n);
        return 1;
    }
    std::printf("B7_idle_rss kaa %.3f B/conn\n", rss_per_conn);
    std::printf("B7_idle_accept kaa %.3f ms\n", static_cast<double>(t_last - t_first) / 1e6);
    std::printf("B7_idle_accept_cpu kaa %.3f ms\n", static_cast<double>(cpu_last - base_cpu) / 1e6);
    return 0;
}

}  // namespace kaa_bench_io
