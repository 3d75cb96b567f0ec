// kaa_soak: the chaos soak of issue 14 (item 3). Thousands of coroutines ("actors") run random
// operations on one loop for a given time: timers, thread-pool jobs, echo round trips over
// loopback sockets to an echo server in the same process, timeouts, noabort() shields,
// SYNCHRONIZED and SINGLETON coroutines — and, at random, abort them from outside, give them a
// timeout, reset the connection (SO_LINGER 0 close), half-close it (shutdown(SHUT_WR)) or
// vanish mid-read. What it checks:
//   - every byte a well-behaved client sends comes back, in order;
//   - an operation ends the way it may: success, or an abort where one was made;
//   - the unhandled-exception handler sees exactly the failures dropped on purpose, once each
//     (everything else is consumed);
//   - SYNCHRONIZED calls never overlap, SINGLETON calls share the running coroutine;
//   - every actor ends (none is stuck), every fd is closed at the end, and every coroutine
//     frame has ended at loop shutdown (KAA_INVARIANT aborts there otherwise).
// Socket clients are bounded (at most --sockets at once, two fds each in this process).
//
//   kaa_soak [--seconds N] [--seed S] [--actors N] [--sockets N] [--inject-corruption N]
//
// --inject-corruption N makes the echo server flip a bit in every Nth chunk: a self-test of the
// checks (the run must then report violations; ctest soak_detects_corruption).
//
// Prints the seed first ("soak: seed S") and ends with exactly one line
//   soak: <ops> operations, <n> invariant violations
// Exit status 0 only when n == 0 (a lost byte counts as a violation). `make soak` runs it in the
// ASan+UBSan build; a 20-second run is a ctest test there (soak_20s).

#include <kaa/detail/loop.hpp>
#include <kaa/kaa.hpp>

#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

struct Config {
    long seconds = 60;
    std::uint64_t seed = 0;
    int actors = 2000;
    int sockets = 150;
    /// Self-test of the checks: the echo server flips a bit in every Nth chunk (0: off).
    long inject_corruption = 0;
};

// Everything the actors share. Loop thread only (pool jobs touch nothing here).
struct Soak {
    Config cfg;
    std::mt19937_64 rng;
    Clock::time_point deadline;
    long ops = 0;
    long violations = 0;
    long by_kind[7] = {};   // operations ended, by Kind
    long aborted = 0;       // operations that ended aborted (from outside or by a timeout)
    long echoed_bytes = 0;  // bytes that came back to well-behaved or half-closing clients
    long resets = 0;        // connections reset (SO_LINGER 0) or left with unread data
    int live_actors = 0;
    int sockets_in_use = 0;  // client sockets open now (each also has a server side)
    int serving = 0;         // server coroutines running
    long chunks_echoed = 0;  // by the server (for --inject-corruption)
    int sync_running = 0;    // SYNCHRONIZED bodies running now (must stay <= 1)
    std::string address;
    std::shared_ptr<kaa::ThreadPool> pool;
    long next_drop = 0;
    std::set<long> unreported;  // failures dropped on purpose, not reported yet

    int rand(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }
    void violation(const std::string& what) {
        ++violations;
        if (violations <= 20) std::fprintf(stderr, "soak: violation: %s\n", what.c_str());
    }
};
Soak* S = nullptr;

std::string describe(std::exception_ptr e) { return kaa::describe_exception(e); }

// ------------------------------------------------------------------ the echo server

kaa::Coroutine<> serve(std::shared_ptr<kaa::Socket> client) {
    ++S->serving;
    struct Count {
        ~Count() { --S->serving; }
    } count;
    try {
        for (;;) {
            std::string data = co_await client->read();
            if (data.empty()) break;  // EOF (or a reset: ends the stream like EOF)
            if (S->cfg.inject_corruption > 0 &&
                ++S->chunks_echoed % S->cfg.inject_corruption == 0) {
                data.back() = static_cast<char>(data.back() ^ 1);  // the soak must notice
            }
            co_await client->write(std::move(data));
        }
    } catch (const std::exception&) {
        // A reset or a write after the peer vanished: this client only.
    }
    client->close(true);
}

// ------------------------------------------------------------------ operations

std::string payload(std::size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(S->rng() & 0xff);
    return s;
}

// Reads until `n` bytes came or EOF.
kaa::Coroutine<std::string> read_n(std::shared_ptr<kaa::Socket> s, std::size_t n) {
    std::string got;
    while (got.size() < n) {
        std::string chunk = co_await s->read();
        if (chunk.empty()) break;
        got += chunk;
    }
    co_return got;
}

// Reads until EOF.
kaa::Coroutine<std::string> read_to_eof(std::shared_ptr<kaa::Socket> s) {
    std::string got;
    for (;;) {
        std::string chunk = co_await s->read();
        if (chunk.empty()) break;
        got += chunk;
    }
    co_return got;
}

enum class EchoMode { well_behaved, half_close, reset, vanish };

// One client connection. Well-behaved and half-closing clients check every byte.
kaa::Coroutine<> op_echo(EchoMode mode) {
    auto s = std::make_shared<kaa::Socket>();
    ++S->sockets_in_use;
    struct Slot {
        std::shared_ptr<kaa::Socket> s;
        ~Slot() {
            --S->sockets_in_use;
            try {
                if (s->alive()) s->close(true);
            } catch (...) {
            }
        }
    } slot{s};
    co_await s->connect(S->address);
    const std::string data = payload(1 + static_cast<std::size_t>(S->rand(48 * 1024)));
    const std::size_t chunk = 1 + static_cast<std::size_t>(S->rand(8192));
    switch (mode) {
        case EchoMode::well_behaved: {
            auto back = read_n(s, data.size());
            for (std::size_t off = 0; off < data.size(); off += chunk) {
                co_await s->write(data.substr(off, chunk));
            }
            if (co_await back != data) S->violation("echo: bytes lost or reordered");
            S->echoed_bytes += static_cast<long>(data.size());
            break;
        }
        case EchoMode::half_close: {
            auto back = read_to_eof(s);
            for (std::size_t off = 0; off < data.size(); off += chunk) {
                co_await s->write(data.substr(off, chunk));
            }
            ::shutdown(s->fileno(), SHUT_WR);
            if (co_await back != data) S->violation("half-close: bytes lost or reordered");
            S->echoed_bytes += static_cast<long>(data.size());
            break;
        }
        case EchoMode::reset: {
            co_await s->write(data.substr(0, chunk));
            if (S->rand(2) == 0) (void)co_await read_n(s, 1);
            linger lg{1, 0};  // close() sends RST
            ::setsockopt(s->fileno(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            s->close(true);
            ++S->resets;
            break;
        }
        case EchoMode::vanish: {
            auto back = read_n(s, data.size() / 2 + 1);
            co_await s->write(data);
            (void)co_await back;
            s->close(true);  // with unread data: the kernel resets
            ++S->resets;
            break;
        }
    }
}

kaa::Coroutine<> op_timer() { co_await kaa::delay(std::chrono::microseconds(S->rand(5000))); }

int twice(int x) { return 2 * x; }

kaa::Coroutine<> op_pool() {
    static auto job = kaa::threaded({.pool = S->pool}, twice);
    const int x = S->rand(1 << 20);
    const int r = co_await job(x);
    if (r != 2 * x) S->violation("pool: wrong result");
}

// A timeout that must fire: what it guards never finishes in time.
kaa::Coroutine<> op_timeout() {
    try {
        co_await kaa::delay(1h).timeout(std::chrono::microseconds(1 + S->rand(3000)), {}, true);
        S->violation("timeout: did not fire");
    } catch (const kaa::TimeoutException&) {
    }
}

// A noabort() shield: aborting the coroutine that awaits it leaves the shielded work alone.
kaa::Coroutine<> op_noabort() {
    kaa::InProgress<> inner = kaa::delay(std::chrono::microseconds(S->rand(3000)));
    auto waiter = [](kaa::InProgress<> shield) -> kaa::Coroutine<> {
        co_await shield;
    }(inner.noabort());
    co_await kaa::delay(std::chrono::microseconds(S->rand(2000)));
    if (!waiter.finished()) {
        try {
            waiter.abort();
        } catch (const kaa::InProgressAborted&) {
        }
    }
    try {
        co_await inner;
    } catch (const kaa::InProgressAborted&) {
        // This operation was aborted from outside (at this co_await): the shield kept the
        // abort from reaching `inner`.
        if (inner.failed()) S->violation("noabort: an abort went through the shield");
        throw;
    } catch (...) {
        S->violation("noabort: the shielded InProgress failed: " +
                     describe(std::current_exception()));
    }
    try {
        co_await waiter;
    } catch (const kaa::InProgressAborted&) {
    }
}

kaa::Coroutine<> synchronized_body(int us) {
    if (++S->sync_running > 1) S->violation("SYNCHRONIZED: two calls ran at once");
    struct Leave {
        ~Leave() { --S->sync_running; }
    } leave;
    co_await kaa::delay(std::chrono::microseconds(us));
}
kaa::Coroutine<> singleton_body(int us) { co_await kaa::delay(std::chrono::microseconds(us)); }

struct Policies {
    kaa::CoroutineFunction<kaa::Coroutine<> (*)(int)> sync =
        kaa::coroutine({.policy = kaa::POLICY_SYNCHRONIZED}, &synchronized_body);
    kaa::CoroutineFunction<kaa::Coroutine<> (*)(int)> single =
        kaa::coroutine({.policy = kaa::POLICY_SINGLETON}, &singleton_body);
};
Policies* P = nullptr;

// Policy-decorated calls: queued SYNCHRONIZED calls (one of them aborted at random), and two
// SINGLETON calls that must share the running coroutine.
kaa::Coroutine<> op_policy() {
    if (S->rand(2) == 0) {
        std::vector<kaa::InProgress<>> calls;
        const int n = 1 + S->rand(3);
        for (int i = 0; i < n; ++i) calls.push_back(P->sync(S->rand(1000)));
        const int victim = S->rand(n + 1);  // n: none
        if (victim < n && !calls[victim].finished()) {
            try {
                calls[victim].abort();
            } catch (const kaa::InProgressAborted&) {
            }
        }
        for (int i = 0; i < n; ++i) {
            try {
                co_await calls[i];
            } catch (const kaa::InProgressAborted& e) {
                // An abort of this operation from outside (origin: not this call) goes on.
                if (!(e.origin() == calls[i])) throw;
                if (i != victim) S->violation("SYNCHRONIZED: a call nobody aborted was aborted");
            }
        }
    } else {
        kaa::InProgress<> a = P->single(1 + S->rand(1000));
        kaa::InProgress<> b = P->single(1);
        if (!a.finished() && !(a == b)) S->violation("SINGLETON: two running coroutines");
        co_await a;
        co_await b;
    }
}

// Failures dropped on purpose: each must reach the unhandled-exception handler exactly once
// (an InProgress failed and dropped at once, or a coroutine nobody holds that fails later).
kaa::Coroutine<> op_drop() {
    const long id = S->next_drop++;
    S->unreported.insert(id);
    const std::string what = "soak-drop " + std::to_string(id);
    if (S->rand(2) == 0) {
        kaa::InProgress<int> p;
        p.throw_exception(std::runtime_error(what));
    } else {
        [](std::string what, int us) -> kaa::Coroutine<> {
            co_await kaa::delay(std::chrono::microseconds(us));
            throw std::runtime_error(what);
        }(what, 1 + S->rand(3000));
    }
    co_await kaa::delay(std::chrono::microseconds(S->rand(1000)));
}

// The unhandled-exception handler: a dropped failure is expected once; anything else is a
// violation.
void on_unhandled(std::exception_ptr e, std::string_view context) {
    try {
        std::rethrow_exception(e);
    } catch (const std::runtime_error& r) {
        const std::string m = r.what();
        // "Unhandled InProgress exception", and for a coroutine " in coroutine NAME (place)".
        if (context.rfind("Unhandled InProgress exception", 0) == 0 &&
            m.rfind("soak-drop ", 0) == 0) {
            const long id = std::stol(m.substr(10));
            if (S->unreported.erase(id) != 1) S->violation(m + " reported twice or unexpectedly");
            return;
        }
    } catch (...) {
    }
    S->violation("unhandled (" + std::string(context) + "): " + describe(e));
}

enum class Kind { timer, pool, timeout, noabort, policy, echo, drop };

kaa::Coroutine<> start(Kind k) {
    switch (k) {
        case Kind::timer:
            return op_timer();
        case Kind::pool:
            return op_pool();
        case Kind::timeout:
            return op_timeout();
        case Kind::noabort:
            return op_noabort();
        case Kind::policy:
            return op_policy();
        case Kind::drop:
            return op_drop();
        case Kind::echo:
            break;
    }
    const int m = S->rand(10);
    const EchoMode mode = m < 5   ? EchoMode::well_behaved
                          : m < 7 ? EchoMode::half_close
                          : m < 9 ? EchoMode::reset
                                  : EchoMode::vanish;
    return op_echo(mode);
}

const char* name(Kind k) {
    static const char* names[] = {"timer", "pool", "timeout", "noabort", "policy", "echo", "drop"};
    return names[static_cast<int>(k)];
}

// One actor: random operations until the deadline; some aborted from outside, some given a
// timeout that aborts them. An operation may end in success, or in an abort only if one was
// made.
kaa::Coroutine<> actor() {
    ++S->live_actors;
    struct Leave {
        ~Leave() { --S->live_actors; }
    } leave;
    while (Clock::now() < S->deadline) {
        Kind k = static_cast<Kind>(S->rand(7));
        if (k == Kind::echo && S->sockets_in_use >= S->cfg.sockets) k = Kind::timer;
        const int fate = S->rand(10);  // 0: aborted from outside, 1: a timeout, else left alone
        try {
            kaa::Coroutine<> op = start(k);
            if (fate == 0) {
                co_await kaa::delay(std::chrono::microseconds(S->rand(3000)));
                if (!op.finished()) {
                    try {
                        op.abort();
                    } catch (const kaa::InProgressAborted&) {
                    }
                }
                co_await op;
            } else if (fate == 1) {
                co_await op.timeout(std::chrono::microseconds(1 + S->rand(5000)), {}, true);
            } else {
                co_await op;
            }
        } catch (const kaa::InProgressAborted& e) {
            ++S->aborted;
            if (fate > 1) {
                S->violation(std::string(name(k)) +
                             ": aborted though nobody aborted it: " + e.what());
            }
        } catch (...) {
            S->violation(std::string(name(k)) + ": " + describe(std::current_exception()));
        }
        ++S->ops;
        ++S->by_kind[static_cast<int>(k)];
    }
}

int open_fds() {
    int n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (::readdir(d)) ++n;
        ::closedir(d);
    }
    return n;
}

int usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s [--seconds N] [--seed S] [--actors N] [--sockets N] "
                 "[--inject-corruption N]\n",
                 argv0);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    Soak soak;
    S = &soak;
    Config& cfg = soak.cfg;
    cfg.seed = std::random_device{}();
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) return usage(argv[0]);
        const char* v = argv[++i];
        char* end = nullptr;
        const unsigned long long x = std::strtoull(v, &end, 10);
        if (*end != '\0' || end == v) return usage(argv[0]);
        if (a == "--seconds") {
            cfg.seconds = static_cast<long>(x);
        } else if (a == "--seed") {
            cfg.seed = x;
        } else if (a == "--actors") {
            cfg.actors = static_cast<int>(std::max(1ULL, x));
        } else if (a == "--sockets") {
            cfg.sockets = static_cast<int>(x);
        } else if (a == "--inject-corruption") {
            cfg.inject_corruption = static_cast<long>(x);
        } else {
            return usage(argv[0]);
        }
    }
    // Two fds per client socket in this process, plus room for the rest.
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        const long room = (static_cast<long>(rl.rlim_cur) - 64) / 2;
        cfg.sockets = static_cast<int>(std::min<long>(cfg.sockets, std::max(0L, room)));
    }
    std::printf("soak: seed %llu (rerun: kaa_soak --seed %llu --seconds %ld)\n",
                static_cast<unsigned long long>(cfg.seed),
                static_cast<unsigned long long>(cfg.seed), cfg.seconds);
    std::fflush(stdout);
    soak.rng.seed(cfg.seed);

    kaa::set_unhandled_exception_handler(on_unhandled);
    kaa::delay(0ms).wait();  // the loop exists: its own fds are not counted below
    const int fds_before = open_fds();
    {
        Policies policies;
        P = &policies;
        soak.pool = std::make_shared<kaa::ThreadPool>(4);
        kaa::Socket server;
        server.listen("127.0.0.1:0", 1024);
        soak.address = "127.0.0.1:" + std::to_string(server.local().port);
        server.new_client_signal().connect(
            [](const std::shared_ptr<kaa::Socket>& client) { serve(client); });

        soak.deadline = Clock::now() + std::chrono::seconds(cfg.seconds);
        for (int i = 0; i < cfg.actors; ++i) actor();
        const auto grace = std::chrono::seconds(cfg.seconds) + 60s;
        kaa::main::loop([&] { return soak.live_actors > 0; }, grace);
        if (soak.live_actors > 0) {
            soak.violation(std::to_string(soak.live_actors) + " actors stuck after the deadline");
        }
        server.close();
        kaa::main::loop([&] { return soak.serving > 0; }, 30s);
        if (soak.serving > 0) {
            soak.violation(std::to_string(soak.serving) + " server connections never ended");
        }
        kaa::main::loop([&] { return !soak.unreported.empty(); }, 10s);
        if (!soak.unreported.empty()) {
            soak.violation(std::to_string(soak.unreported.size()) +
                           " dropped failures never reported");
        }
        soak.pool->shutdown();
        P = nullptr;
    }
    kaa::main::stop();  // the shutdown sequence: every frame must end (KAA_INVARIANT)
    if (kaa::detail::frames_parked() != 0) {
        soak.violation(std::to_string(kaa::detail::frames_parked()) +
                       " coroutine frames outlived loop shutdown");
    }
    const int fds_after = open_fds();
    if (fds_after != fds_before) {
        soak.violation("fds: " + std::to_string(fds_before) + " open before, " +
                       std::to_string(fds_after) + " after");
    }
    kaa::set_unhandled_exception_handler({});
    std::printf(
        "soak: timer %ld, pool %ld, timeout %ld, noabort %ld, policy %ld, echo %ld, drop %ld; "
        "%ld aborted; %ld bytes echoed and checked; %ld connections reset\n",
        soak.by_kind[0], soak.by_kind[1], soak.by_kind[2], soak.by_kind[3], soak.by_kind[4],
        soak.by_kind[5], soak.by_kind[6], soak.aborted, soak.echoed_bytes, soak.resets);
    std::printf("soak: %ld operations, %ld invariant violations\n", soak.ops, soak.violations);
    return soak.violations == 0 ? 0 : 1;
}
