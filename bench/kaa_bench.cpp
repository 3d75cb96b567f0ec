// kaa_bench: the peer benchmark scenarios (../shared/bench-peers) written with kaa for C++.
//
//   bench_kaa_bench SCENARIO [N]
//
// SCENARIO is B1_spawn, B2_yield, B3_timers, B4_sleepers, B5_echo, B6_pool, B7_idle,
// B8_abort or B9_spike (or b1 … b9); B5_server PORT serves echo for compare.sh (see
// kaa_bench_io.hpp).
// Each run prints `scenario kaa value unit` lines, the format of the peers' programs, so that
// bench/run.sh and bench/compare.sh can put them side by side. The definitions are the peers'
// (see bench/README.md); every scenario runs inside kaa::main::run(), started from a
// OneShotTimer(0) as the Python kaa benchmark does, and stops the loop when it is done.
//
// Lifetime: one scenario per process (RSS figures need a fresh process).
// Threads: everything runs on the main-loop thread (B6 adds the pool's workers).

// Only the headers the scenarios use (not kaa.hpp): a half-written header elsewhere in the
// tree must not stop the measurements.
#include <kaa/coroutine.hpp>
#include <kaa/delay.hpp>
#include <kaa/errors.hpp>
#include <kaa/inprogress.hpp>
#include <kaa/main.hpp>
#include <kaa/timer.hpp>

// B6 needs kaa/thread.hpp (the threads issue): compiled when the header exists; build with
// -DKAA_BENCH_POOL=0 to leave it out (B6 then prints `n/a not_yet`).
#ifndef KAA_BENCH_POOL
#if __has_include(<kaa/thread.hpp>)
#define KAA_BENCH_POOL 1
#else
#define KAA_BENCH_POOL 0
#endif
#endif
#if KAA_BENCH_POOL
#include <kaa/thread.hpp>
#endif

#include "kaa_bench_io.hpp"  // B5 echo, B7 idle connections

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

using namespace std::chrono_literals;

namespace {

// ---------------------------------------------------------------- measurement helpers

/// Monotonic clock in nanoseconds (CLOCK_MONOTONIC, like the peers).
std::int64_t mono_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

/// The process's peak resident set so far, KiB (getrusage's ru_maxrss).
long rss_peak_kib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

/// The process's resident set now, KiB (second field of /proc/self/statm, in pages).
long rss_now_kib() {
    long size_pages = 0;
    long resident_pages = 0;
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (std::fscanf(f, "%ld %ld", &size_pages, &resident_pages) != 2) resident_pages = 0;
    std::fclose(f);
    return resident_pages * (sysconf(_SC_PAGESIZE) / 1024);
}

/// The peers' deterministic delays: a 32-bit LCG (Numerical Recipes constants, seed 12345),
/// microseconds uniform in [0, 200000]. Must stay bit-identical to bench-peers/common.hpp.
std::vector<std::uint32_t> lcg_delays_us(std::size_t n) {
    std::vector<std::uint32_t> out(n);
    std::uint32_t state = 12345u;
    for (auto& d : out) {
        state = state * 1664525u + 1013904223u;
        d = (state >> 8) % 200001u;
    }
    return out;
}

/// One result line: `scenario kaa value unit` (value with three decimals, as the peers print).
void emit(const char* scenario, double value, const char* unit) {
    std::printf("%s kaa %.3f %s\n", scenario, value, unit);
    std::fflush(stdout);
}

/// A line for a scenario that cannot run yet: `scenario kaa n/a reason`.
[[maybe_unused]] void emit_na(const char* scenario, const char* reason) {
    std::printf("%s kaa n/a %s\n", scenario, reason);
    std::fflush(stdout);
}

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "kaa_bench: %s\n", what);
    std::exit(1);
}

/// Runs `start()` (which returns a coroutine) from a OneShotTimer(0) inside kaa::main::run()
/// and stops the loop when that coroutine ends; exits the process with 1 if it failed.
template <class Start>
void run_in_loop(Start start) {
    bool failed = false;
    kaa::OneShotTimer kick([&] {
        kaa::Coroutine<> co = start();
        co.connect_both([] { kaa::main::stop(); },
                        [&failed](std::exception_ptr e) {
                            std::fprintf(stderr, "kaa_bench: scenario failed: %s\n",
                                         kaa::describe_exception(e).c_str());
                            failed = true;
                            kaa::main::stop();
                            return false;  // handled
                        });
    });
    kick.start(0s);
    kaa::main::run();
    if (failed) std::exit(1);
}

// ---------------------------------------------------------------- B1 spawn

kaa::Coroutine<int> child(int i) { co_return i; }

kaa::Coroutine<> b1_parent(long n) {
    long long sum = 0;
    const std::int64_t t0 = mono_ns();
    for (long i = 0; i < n; ++i) sum += co_await child(static_cast<int>(i));
    const std::int64_t t1 = mono_ns();
    if (sum != static_cast<long long>(n) * (n - 1) / 2) die("B1: wrong sum");
    emit("B1_spawn", static_cast<double>(t1 - t0) / static_cast<double>(n), "ns/child");
}

// ---------------------------------------------------------------- B2 yield

kaa::Coroutine<> b2_yielder(long n) {
    // Like asio's "live" variant: a real loop has something registered. A parked 1-hour timer
    // keeps the timer heap non-empty while we yield; it is stopped afterwards.
    kaa::OneShotTimer parked([] {});
    parked.start(1h);
    const std::int64_t t0 = mono_ns();
    for (long i = 0; i < n; ++i) co_await kaa::NotFinished;
    const std::int64_t t1 = mono_ns();
    parked.stop();
    emit("B2_yield", static_cast<double>(t1 - t0) / static_cast<double>(n), "ns/yield");
}

// ---------------------------------------------------------------- B3 timers

struct B3State {
    long n = 0;
    long fired = 0;
    std::int64_t tlast = 0;
    kaa::InProgress<void> all_fired;
};

kaa::Coroutine<> b3_timers(long n) {
    const std::vector<std::uint32_t> delays = lcg_delays_us(static_cast<std::size_t>(n));
    B3State st;
    st.n = n;
    B3State* s = &st;
    const long base_kib = rss_now_kib();
    const std::int64_t t0 = mono_ns();
    for (long i = 0; i < n; ++i) {
        // kaa idiom: a started timer keeps itself alive until it fired; no handle is kept.
        kaa::OneShotTimer([s] {
            if (++s->fired == s->n) {
                s->tlast = mono_ns();
                s->all_fired.finish();
            }
        }).start(std::chrono::microseconds(delays[static_cast<std::size_t>(i)]));
    }
    const std::int64_t tarmed = mono_ns();
    co_await st.all_fired;
    const long peak_kib = rss_peak_kib();
    const double nd = static_cast<double>(n);
    emit("B3_timers_overhead", static_cast<double>(st.tlast - t0) / 1e6 - 200.0, "ms");
    emit("B3_timers_arm", static_cast<double>(tarmed - t0) / nd, "ns/timer");
    emit("B3_timers_peak_rss", static_cast<double>(peak_kib) / 1024.0, "MiB");
    emit("B3_timers_rss_per_timer", static_cast<double>(peak_kib - base_kib) * 1024.0 / nd,
         "B/timer");
}

// ---------------------------------------------------------------- B4 sleepers

struct B4State {
    long n = 0;
    long done = 0;
    std::int64_t tend = 0;
    kaa::InProgress<void> all_done;
};

kaa::Coroutine<> b4_sleeper(B4State* s) {
    co_await kaa::delay(1s);
    if (++s->done == s->n) {
        s->tend = mono_ns();
        s->all_done.finish();
    }
}

kaa::Coroutine<> b4_sleepers(long n) {
    B4State st;
    st.n = n;
    const long base_kib = rss_now_kib();
    const std::int64_t t0 = mono_ns();
    // Fire and forget: a running coroutine owns its frame, no handle is kept.
    for (long i = 0; i < n; ++i) b4_sleeper(&st);
    const std::int64_t tspawned = mono_ns();
    co_await st.all_done;
    if (st.done != n) die("B4: not every sleeper woke up");
    const long peak_kib = rss_peak_kib();
    emit("B4_sleepers_rss",
         static_cast<double>(peak_kib - base_kib) * 1024.0 / static_cast<double>(n), "B/sleeper");
    emit("B4_sleepers_time", static_cast<double>(st.tend - t0) / 1e6, "ms");
    // Not a peer figure: the Python kaa reports it (kaa_py/kaa_bench.py), so it is comparable.
    emit("B4_sleepers_spawn", static_cast<double>(tspawned - t0) / static_cast<double>(n),
         "ns/sleeper");
}

// ---------------------------------------------------------------- B8 abort and shutdown
//
// asio's b8: N coroutines parked on their own 1-hour timer (`co_await kaa::delay(1h)`), each
// with cleanup code (a guard whose destructor counts live frames, a catch block). Abort: each
// aborted through its own handle from the loop thread; the body catches the InProgressAborted
// and returns; first abort() to the last body's end, ns per abort. Shutdown: N fresh parked
// coroutines (fire and forget, no handle), main::stop() from the loop thread until run() has
// returned; kaa unwinds every suspended frame (the abort is thrown in, the catch blocks and
// destructors run), where asio destroys its frames without resuming them.

struct B8State {
    long n = 0;
    long alive = 0;
    long parked = 0;
    long ended = 0;
    std::int64_t tend = 0;
};

struct FrameGuard {
    long* alive;
    ~FrameGuard() { --*alive; }
};

kaa::Coroutine<> b8_abortee(B8State* s) {
    FrameGuard guard{&s->alive};
    ++s->alive;
    try {
        ++s->parked;
        co_await kaa::delay(1h);
        die("B8: a 1-hour delay fired");
    } catch (const kaa::InProgressAborted&) {
    }
    if (++s->ended == s->n) s->tend = mono_ns();
}

kaa::Coroutine<> b8_abort(long n) {
    B8State st;
    st.n = n;
    std::vector<kaa::Coroutine<>> handles;
    handles.reserve(static_cast<std::size_t>(n));
    const long base_kib = rss_now_kib();
    for (long i = 0; i < n; ++i) handles.push_back(b8_abortee(&st));
    if (st.parked != n) die("B8: not every coroutine parked");
    const long parked_kib = rss_now_kib();
    const std::int64_t t0 = mono_ns();
    for (auto& h : handles) h.abort();
    if (st.ended != n) die("B8: not every aborted coroutine ended");
    handles.clear();
    if (st.alive != 0) die("B8: frames left after the abort");
    emit("B8_abort", static_cast<double>(st.tend - t0) / static_cast<double>(n), "ns");
    emit("B8_abort_rss",
         static_cast<double>(parked_kib - base_kib) * 1024.0 / static_cast<double>(n), "B");
    co_return;
}

void b8_shutdown(long n) {
    B8State st;
    st.n = n;
    std::int64_t t0 = 0;
    kaa::OneShotTimer kick([&] {
        for (long i = 0; i < n; ++i) b8_abortee(&st);  // fire and forget
        if (st.parked != n) die("B8: not every coroutine parked");
        t0 = mono_ns();
        kaa::main::stop();
    });
    kick.start(0s);
    kaa::main::run();
    const std::int64_t t1 = mono_ns();
    if (st.alive != 0) die("B8: frames left after the shutdown");
    emit("B8_shutdown", static_cast<double>(t1 - t0) / 1e6, "ms");
}

// ---------------------------------------------------------------- B9 spike
//
// Memory that comes back (no peer figure): N coroutines parked on their own delay(0), all
// finished; then the loop stays idle for 30 ms (the frame allocator sweeps once its lists did not
// change between two idle steps, 10 ms apart at most) and the resident set is compared with the
// one before the spike (after the loop had gone idle once too): RSS after / RSS before, %. Also
// printed: both resident sets, and the time of the 30 ms wait, the sweep included.

struct B9State {
    long n = 0;
    long ended = 0;
    kaa::InProgress<void> all_ended;
};

kaa::Coroutine<> b9_parked(B9State* s) {
    co_await kaa::delay(0s);
    if (++s->ended == s->n) s->all_ended.finish();
}

kaa::Coroutine<> b9_spike(long n) {
    co_await kaa::delay(1ms);  // the loop went idle once: the baseline is an idle loop's
    B9State st;
    st.n = n;
    const long before_kib = rss_now_kib();
    for (long i = 0; i < n; ++i) b9_parked(&st);  // fire and forget
    const long spike_kib = rss_now_kib();
    co_await st.all_ended;
    const std::int64_t t0 = mono_ns();
    co_await kaa::delay(30ms);  // the loop stays idle: the spike's memory goes back
    const std::int64_t t1 = mono_ns();
    const long after_kib = rss_now_kib();
    emit("B9_rss_before", static_cast<double>(before_kib) / 1024.0, "MiB");
    emit("B9_rss_spike", static_cast<double>(spike_kib) / 1024.0, "MiB");
    emit("B9_rss_after_spike",
         100.0 * static_cast<double>(after_kib) / static_cast<double>(before_kib), "%");
    // The idle wait that gave the memory back, its 30 ms sleep included.
    emit("B9_idle_step", static_cast<double>(t1 - t0) / 1e6, "ms");
}

// ---------------------------------------------------------------- B6 pool
//
// 200,000 trivial jobs (i * 2 + 1) through a kaa::ThreadPool of 4 workers, all submitted at
// once, each result awaited by its own coroutine back on the loop thread (asio's b6: a
// coroutine per job co_awaiting the pool); µs per job from the first submission to the last
// result. Without KAA_BENCH_POOL the scenario prints `B6_pool kaa n/a not_yet`.

#if KAA_BENCH_POOL
struct B6State {
    long n = 0;
    long done = 0;
    long long sum = 0;
    std::int64_t t1 = 0;
    kaa::InProgress<void> all_done;
};

template <class Work>
kaa::Coroutine<> b6_collect(B6State* s, Work* work, int i) {
    const int r = co_await (*work)(i);  // runs on a pool thread, resumes on the loop thread
    s->sum += r;
    if (++s->done == s->n) {
        s->t1 = mono_ns();
        s->all_done.finish();
    }
}

kaa::Coroutine<> b6_pool(long n) {
    auto pool = std::make_shared<kaa::ThreadPool>(4);
    auto work = kaa::threaded({.pool = pool}, [](int i) { return i * 2 + 1; });
    B6State st;
    st.n = n;
    const std::int64_t t0 = mono_ns();
    for (long i = 0; i < n; ++i) b6_collect(&st, &work, static_cast<int>(i));
    co_await st.all_done;
    if (st.done != n || st.sum != static_cast<long long>(n) * n) die("B6: wrong sum");
    emit("B6_pool", static_cast<double>(st.t1 - t0) / 1e3 / static_cast<double>(n), "us/task");
    pool->shutdown();  // outside the timed region
}
#endif

// ---------------------------------------------------------------- driver

void usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s B1_spawn|B2_yield|B3_timers|B4_sleepers|B5_echo|B5_server "
                 "PORT|B6_pool|B7_idle|B8_abort|B9_spike [N]\n"
                 "  defaults: B1 N=1000000, B2 N=10000000, B3 N=1000000, B4 N=100000, "
                 "B6 N=200000, B8 N=1000000, B9 N=1000000\n",
                 argv0);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        usage(argv[0]);
        return 2;
    }
    const std::string_view s = argv[1];
    auto count = [&](long def) {
        if (argc < 3) return def;
        long v = std::atol(argv[2]);
        if (v <= 0) die("N must be a positive integer");
        return v;
    };
    auto is = [&](std::string_view full, std::string_view shorthand) {
        return s == full || s == shorthand;
    };

    if (is("B1_spawn", "b1")) {
        long n = count(1'000'000);
        run_in_loop([n] { return b1_parent(n); });
    } else if (is("B2_yield", "b2")) {
        long n = count(10'000'000);
        run_in_loop([n] { return b2_yielder(n); });
    } else if (is("B3_timers", "b3")) {
        long n = count(1'000'000);
        run_in_loop([n] { return b3_timers(n); });
    } else if (is("B4_sleepers", "b4")) {
        long n = count(100'000);
        run_in_loop([n] { return b4_sleepers(n); });
    } else if (is("B5_echo", "b5")) {
        return kaa_bench_io::b5_echo(count(2'000'000));
    } else if (is("B5_server", "b5-server")) {
        return kaa_bench_io::b5_server(count(0));
    } else if (is("B7_idle", "b7")) {
        return kaa_bench_io::b7_idle(count(10'000));
    } else if (is("B6_pool", "b6")) {
#if KAA_BENCH_POOL
        long n = count(200'000);
        run_in_loop([n] { return b6_pool(n); });
#else
        emit_na("B6_pool", "not_yet");
#endif
    } else if (is("B9_spike", "b9")) {
        long n = count(1'000'000);
        run_in_loop([n] { return b9_spike(n); });
    } else if (is("B8_abort", "b8")) {
        long n = count(1'000'000);
        run_in_loop([n] { return b8_abort(n); });
        b8_shutdown(n);
    } else {
        usage(argv[0]);
        return 2;
    }
    return 0;
}
