#pragma once
// B5 echo and B7 idle connections (bench/io/kaa_bench_io.cpp, its own translation unit): the
// kaa side of the peers' I/O scenarios, driven by the peers' own load generators.
//
//   bench_kaa_bench B5_echo [N]       serves echo on 127.0.0.1 (one coroutine per connection,
//                                     as examples/echo_server.cpp) and runs `echo_client PORT 64
//                                     N 60 64`; prints `B5_echo kaa <rt/s> rt/s`
//   bench_kaa_bench B5_server PORT    the same server until SIGTERM (for compare.sh's echo_run)
//   bench_kaa_bench B7_idle [N]       accepts N connections from `idle_client PORT N 60`, each
//                                     with a coroutine suspended in read(); prints B7_idle_rss,
//                                     B7_idle_accept and B7_idle_accept_cpu
//
// Threads: main-loop thread only.

namespace kaa_bench_io {

/// B5: echo server plus the peers' echo_client; prints `B5_echo kaa <rt/s> rt/s`.
int b5_echo(long n);
/// The B5 echo server alone on 127.0.0.1:`port` until SIGTERM.
int b5_server(long port);
/// B7: `n` idle connections from the peers' idle_client.
int b7_idle(long n);

}  // namespace kaa_bench_io
