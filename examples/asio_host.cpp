// kaa inside another event loop: an asio io_context runs the program, and kaa's loop is a guest
// in it, driven through kaa::main::backend_fd(), backend_timeout() and step_nowait() (as libuv's
// uv_backend_fd()/uv_backend_timeout()). A kaa coroutine sleeps with kaa::delay(), awaits a
// threaded job and an asio timer's result while asio's own timer ticks; when it is done it stops
// the io_context. Built only where asio (Debian: libasio-dev) is found; exits 0.

#include <kaa/kaa.hpp>

#include <poll.h>

#include <asio.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>

using namespace std::chrono_literals;

namespace {

/// Hosts kaa's loop in an io_context: watches the backend fd for readability and arms a timer
/// for backend_timeout(); either one runs step_nowait(). Call pump() after running kaa code
/// from an asio handler (it may have armed a kaa timer or queued work).
class KaaHost {
public:
    explicit KaaHost(asio::io_context& io) : io_(io), fd_(io, kaa::main::backend_fd()), timer_(io) {
        watch();
        rearm();
    }
    ~KaaHost() {
        (void)fd_.release();  // kaa owns the epoll fd: asio must not close it
    }
    KaaHost(const KaaHost&) = delete;
    KaaHost& operator=(const KaaHost&) = delete;

    /// One kaa iteration, then the timer for the next one.
    void pump() {
        kaa::main::step_nowait();
        // asio watches the fd edge-triggered: if kaa left work (more ready fds than one
        // iteration takes), no new edge will come, so come back at once.
        pollfd p{kaa::main::backend_fd(), POLLIN, 0};
        if (::poll(&p, 1, 0) > 0) {
            asio::post(io_, [this] { pump(); });
            return;
        }
        rearm();
    }

private:
    void watch() {
        fd_.async_wait(asio::posix::stream_descriptor::wait_read, [this](std::error_code ec) {
            if (ec) return;  // cancelled: the io_context is going away
            pump();
            watch();
        });
    }
    void rearm() {
        const auto t = kaa::main::backend_timeout();
        if (!t) {
            timer_.cancel();  // no kaa timer: the fd alone wakes us
            return;
        }
        timer_.expires_after(*t);
        timer_.async_wait([this](std::error_code ec) {
            if (!ec) pump();
        });
    }

    asio::io_context& io_;
    asio::posix::stream_descriptor fd_;
    asio::steady_timer timer_;
};

/// An asio timer's expiry as a kaa InProgress.
kaa::InProgress<int> asio_sleep(asio::io_context& io, std::chrono::milliseconds d, int value,
                                KaaHost& host) {
    kaa::InProgress<int> ip;
    auto timer = std::make_shared<asio::steady_timer>(io, d);
    timer->async_wait([ip, timer, value, &host](std::error_code) mutable {
        ip.finish(value);  // resumes the awaiting coroutine right here, inline
        host.pump();       // it may have armed kaa timers: look again
    });
    return ip;
}

kaa::Coroutine<int> guest(asio::io_context& io, KaaHost& host) {
    for (int i = 1; i <= 3; ++i) {
        co_await kaa::delay(20ms);
        std::cout << "kaa: delay " << i << " done\n";
    }
    auto square = kaa::threaded({}, [](int x) { return x * x; });  // a thread of its own
    const int sq = co_await square(7);
    std::cout << "kaa: threaded job returned " << sq << '\n';
    const int v = co_await asio_sleep(io, 30ms, 5, host);
    std::cout << "kaa: asio timer returned " << v << '\n';
    co_return sq + v;
}

}  // namespace

int main() {
    asio::io_context io;
    KaaHost host(io);

    int asio_ticks = 0;
    asio::steady_timer ticker(io);
    std::function<void()> tick = [&] {
        ticker.expires_after(25ms);
        ticker.async_wait([&](std::error_code ec) {
            if (ec) return;
            std::cout << "asio: tick " << ++asio_ticks << '\n';
            tick();
        });
    };
    tick();

    auto job = guest(io, host);
    host.pump();  // the coroutine armed a kaa timer from outside any handler
    int result = 0;
    job.connect([&](int r) {
        result = r;
        ticker.cancel();
        io.stop();
    });

    io.run_for(10s);
    kaa::main::stop();  // no kaa loop runs: kaa's shutdown sequence runs now
    const bool ok = job.finished() && !job.failed() && result == 54 && asio_ticks > 0;
    std::cout << (ok ? "asio_host: ok" : "asio_host: FAILED") << '\n';
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
