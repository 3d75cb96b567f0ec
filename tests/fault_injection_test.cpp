// Fault injection in the I/O layer (issue 14 item 4): the system calls of the reactor and the
// I/O layer go through kaa::detail::sys() (include/kaa/detail/syscalls.hpp); these tests
// replace entries to make them fail the way a loaded system does — EMFILE/ENFILE on accept,
// ECONNRESET and EPIPE on write, EINTR everywhere, short reads and writes on every call — and
// check what the program sees. The seam needs no LD_PRELOAD, so the tests run under the
// sanitizers too. Loopback and pipes only; the loop is driven by waiting, nothing sleeps.

#include <kaa/detail/syscalls.hpp>
#include <kaa/io_channel.hpp>
#include <kaa/main.hpp>
#include <kaa/process.hpp>
#include <kaa/signal.hpp>
#include <kaa/socket.hpp>

#include "socket_util.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <vector>

using namespace std::chrono_literals;
using kaa::test::EchoServer;
using kaa::test::round_trip;
using kaa::test::round_trip_existing;
using kaa::test::tcp;

namespace {

using kaa::detail::Syscalls;

// What the fault functions do; reset by every ScopedFaults. Loop thread only (every call
// through the table is made there).
struct Faults {
    int accept_errno = 0;  ///< accept4 fails with this (0: real)
    int send_errno = 0;    ///< send/write fail with this once `send_budget` bytes went out
    std::size_t send_budget = 0;
    bool eintr = false;    ///< every other call fails with EINTR first
    bool shorten = false;  ///< reads and writes move 1-7 bytes per call
    std::minstd_rand rng{14};
    // Counters: calls, and faults injected, per system call.
    std::array<int, 7> calls{};
    std::array<int, 7> injected{};
    std::array<bool, 7> interrupted_last{};
};
Faults g;

enum Call { kRead, kWrite, kSend, kAccept, kConnect, kEpoll, kWaitpid };

// EINTR before every other call of `c` (the retried call then goes through).
bool interrupt(Call c) {
    ++g.calls[c];
    if (!g.eintr) return false;
    g.interrupted_last[c] = !g.interrupted_last[c];
    if (!g.interrupted_last[c]) return false;
    ++g.injected[c];
    errno = EINTR;
    return true;
}

std::size_t shortened(std::size_t n) {
    if (!g.shorten || n <= 1) return n;
    ++g.injected[kSend];
    return std::min<std::size_t>(n, 1 + g.rng() % 7);
}

ssize_t fault_read(int fd, void* buf, std::size_t n) {
    if (interrupt(kRead)) return -1;
    if (g.shorten && n > 1) {
        ++g.injected[kRead];
        n = std::min<std::size_t>(n, 1 + g.rng() % 7);
    }
    return kaa::detail::real_syscalls().read(fd, buf, n);
}

ssize_t out(Call c, int fd, const void* buf, std::size_t n, int flags) {
    if (interrupt(c)) return -1;
    if (g.send_errno != 0) {
        if (g.send_budget == 0) {
            ++g.injected[c];
            errno = g.send_errno;
            return -1;
        }
        n = std::min(n, g.send_budget);
        g.send_budget -= n;
    }
    n = shortened(n);
    const Syscalls& real = kaa::detail::real_syscalls();
    return c == kSend ? real.send(fd, buf, n, flags) : real.write(fd, buf, n);
}
ssize_t fault_write(int fd, const void* buf, std::size_t n) { return out(kWrite, fd, buf, n, 0); }
ssize_t fault_send(int fd, const void* buf, std::size_t n, int flags) {
    return out(kSend, fd, buf, n, flags);
}

int fault_accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
    if (interrupt(kAccept)) return -1;
    if (g.accept_errno != 0) {
        ++g.injected[kAccept];
        errno = g.accept_errno;
        return -1;
    }
    return kaa::detail::real_syscalls().accept4(fd, addr, len, flags);
}

// A connect interrupted by a signal goes on asynchronously (Linux): the real call is made and
// its EINPROGRESS becomes EINTR.
int fault_connect(int fd, const sockaddr* addr, socklen_t len) {
    ++g.calls[kConnect];
    const int r = kaa::detail::real_syscalls().connect(fd, addr, len);
    if (g.eintr && r < 0 && errno == EINPROGRESS) {
        ++g.injected[kConnect];
        errno = EINTR;
    }
    return r;
}

int fault_epoll_wait(int epfd, epoll_event* events, int max, int timeout_ms) {
    if (interrupt(kEpoll)) return -1;
    return kaa::detail::real_syscalls().epoll_wait(epfd, events, max, timeout_ms);
}

pid_t fault_waitpid(pid_t pid, int* status, int options) {
    if (interrupt(kWaitpid)) return -1;
    return kaa::detail::real_syscalls().waitpid(pid, status, options);
}

// RAII: the fault functions in the table while alive (with `g` reset), libc's calls after.
class ScopedFaults {
public:
    ScopedFaults() {
        g = Faults{};
        previous_ = kaa::detail::replace_syscalls(Syscalls{fault_read, fault_write, fault_send,
                                                           fault_accept4, fault_connect,
                                                           fault_epoll_wait, fault_waitpid});
    }
    ~ScopedFaults() { kaa::detail::replace_syscalls(previous_); }
    ScopedFaults(const ScopedFaults&) = delete;
    ScopedFaults& operator=(const ScopedFaults&) = delete;

private:
    Syscalls previous_;
};

// A random payload of `n` bytes (every byte value), so that a lost, duplicated or reordered
// byte shows.
std::string payload(std::size_t n, unsigned seed) {
    std::minstd_rand r(seed);
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(r() & 0xff);
    return s;
}

// A pipe as two channels (read end, write end).
struct PipeChannels {
    std::unique_ptr<kaa::IOChannel> in;
    std::unique_ptr<kaa::IOChannel> out;
    PipeChannels() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category());
        in = std::make_unique<kaa::IOChannel>(fds[0], kaa::IOChannelOptions{.mode = kaa::IO_READ});
        out = std::make_unique<kaa::IOChannel>(fds[1],
                                               kaa::IOChannelOptions{.mode = kaa::IO_WRITE});
    }
};

kaa::Coroutine<std::string> read_exactly(kaa::IOChannel* ch, std::size_t n) {
    std::string got;
    while (got.size() < n) {
        std::string chunk = co_await ch->read();
        if (chunk.empty()) break;
        got += chunk;
    }
    co_return got;
}

// Counts loop iterations while alive.
struct IterationCounter {
    int n = 0;
    kaa::ScopedConnection c{kaa::main::signals().step.connect([this] { ++n; })};
};

}  // namespace

// EMFILE and ENFILE on accept: the server stops watching the listening socket for a while (no
// spin), keeps serving the clients it has, and accepts the waiting client once accept works.
class AcceptExhaustion : public ::testing::TestWithParam<int> {};

TEST_P(AcceptExhaustion, ServerKeepsServingDoesNotSpinAndAcceptsAgainLater) {
    EchoServer server("127.0.0.1:0");
    const std::string address = tcp(server.socket);
    auto first = std::make_shared<kaa::Socket>();
    ASSERT_EQ(round_trip(first, address, "before").wait(2s), "before");
    ScopedFaults faults;
    g.accept_errno = GetParam();
    auto second = std::make_shared<kaa::Socket>();
    auto trip = round_trip(second, address, "waited");  // the kernel completes the handshake
    kaa::main::loop([&] { return !server.socket.accept_paused(); }, 2s);
    ASSERT_TRUE(server.socket.accept_paused());
    EXPECT_EQ(g.injected[kAccept], 1);
    EXPECT_EQ(server.clients.size(), 1u);
    // The client it has is served meanwhile.
    EXPECT_EQ(round_trip_existing(first, "during").wait(2s), "during");
    // Paused: over 30 ms the loop sleeps instead of spinning on the listening socket, and
    // retries accept4 at most once per retry period.
    {
        IterationCounter it;
        const int accepts = g.calls[kAccept];
        kaa::main::loop(true, 30ms);
        EXPECT_LT(it.n, 10);
        EXPECT_LE(g.calls[kAccept] - accepts, 1);
    }
    g.accept_errno = 0;
    EXPECT_EQ(trip.wait(2s), "waited");
    EXPECT_EQ(server.clients.size(), 2u);
    EXPECT_FALSE(server.socket.accept_paused());
}

INSTANTIATE_TEST_SUITE_P(FaultInjection, AcceptExhaustion, ::testing::Values(EMFILE, ENFILE),
                         [](const auto& info) {
                             return std::string(info.param == EMFILE ? "EMFILE" : "ENFILE");
                         });

// ECONNRESET in the middle of a write: the write fails with kaa's error (std::system_error
// with ECONNRESET), the socket closes (unexpectedly), nothing is reported as unhandled.
TEST(FaultInjection, ConnectionResetMidWriteFailsTheWriteAndClosesTheSocket) {
    kaa::Socket server;
    server.listen("127.0.0.1:0");
    auto accepted = server.accept();
    kaa::Socket client;
    client.connect(tcp(server)).wait(2s);
    auto peer = accepted.wait(2s);
    std::vector<bool> closed;
    peer->closed_signal().connect([&](bool e) { closed.push_back(e); });
    ScopedFaults faults;
    g.send_errno = ECONNRESET;
    g.send_budget = 1000;  // 1,000 bytes go out, then the peer resets
    auto w = peer->write(std::string(64 * 1024, 'w'));
    try {
        w.wait(2s);
        ADD_FAILURE() << "the write succeeded";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), ECONNRESET) << e.what();
    }
    EXPECT_EQ(g.injected[kSend], 1);
    EXPECT_EQ(closed, std::vector<bool>{false});
    EXPECT_FALSE(peer->alive());
    EXPECT_EQ(read_exactly(&client, 1000).wait(2s), std::string(1000, 'w'));
}

// EPIPE: writing to a pipe whose reader is gone does not kill the process with SIGPIPE; the
// writer gets kaa's error (std::system_error with EPIPE). A real pipe, no injection.
TEST(FaultInjection, EpipeOnAPipeIsKaasErrorNotSigpipe) {
    PipeChannels p;
    p.in->close(true);
    auto w = p.out->write("nobody reads this");
    try {
        w.wait(2s);
        ADD_FAILURE() << "the write succeeded";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), EPIPE) << e.what();
    }
}

// EPIPE on a socket (injected): the same error, the socket closes.
TEST(FaultInjection, EpipeOnASocketIsKaasError) {
    kaa::Socket server;
    server.listen("127.0.0.1:0");
    auto accepted = server.accept();
    kaa::Socket client;
    client.connect(tcp(server)).wait(2s);
    auto peer = accepted.wait(2s);
    ScopedFaults faults;
    g.send_errno = EPIPE;
    auto w = peer->write("late");
    try {
        w.wait(2s);
        ADD_FAILURE() << "the write succeeded";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), EPIPE) << e.what();
    }
    EXPECT_FALSE(peer->alive());
}

// EINTR before every other call of read, write, send, accept4, connect, epoll_wait and waitpid:
// each is retried (or, for connect, completes asynchronously) and nothing shows — every echo,
// every byte through a pipe and a child's exit code arrive.
TEST(FaultInjection, EintrOnEveryInterruptibleCallIsRetriedTransparently) {
    ScopedFaults faults;
    g.eintr = true;
    {
        EchoServer server("127.0.0.1:0");
        const std::string address = tcp(server.socket);
        std::vector<std::shared_ptr<kaa::Socket>> sockets;
        std::vector<kaa::Coroutine<std::string>> trips;
        for (int i = 0; i < 8; ++i) {
            sockets.push_back(std::make_shared<kaa::Socket>());
            trips.push_back(round_trip(sockets.back(), address, payload(5000, i)));
        }
        for (int i = 0; i < 8; ++i) EXPECT_EQ(trips[i].wait(5s), payload(5000, i)) << i;
        PipeChannels p;
        const std::string data = payload(3000, 99);
        auto r = read_exactly(p.in.get(), data.size());
        p.out->write(data);
        EXPECT_EQ(r.wait(5s), data);
        kaa::Process child({"cat"});
        auto code = child.start();
        auto line = child.readline();
        child.write("through a child\n");
        EXPECT_EQ(line.wait(5s), "through a child\n");
        child.close_stdin();
        EXPECT_EQ(code.wait(5s), 0);
    }
    for (Call c : {kRead, kWrite, kSend, kAccept, kConnect, kEpoll, kWaitpid}) {
        EXPECT_GT(g.injected[c], 0) << "no EINTR injected into call " << c;
    }
}

// Short reads and short writes on every call (1-7 bytes each): every byte arrives, in order,
// over TCP in both directions and through a pipe.
TEST(FaultInjection, ShortReadsAndWritesOnEveryCallKeepTheDataCompleteAndInOrder) {
    ScopedFaults faults;
    g.shorten = true;
    EchoServer server("127.0.0.1:0");
    const std::string address = tcp(server.socket);
    std::vector<std::shared_ptr<kaa::Socket>> sockets;
    std::vector<kaa::Coroutine<std::string>> trips;
    for (int i = 0; i < 4; ++i) {
        sockets.push_back(std::make_shared<kaa::Socket>());
        trips.push_back(round_trip(sockets.back(), address, payload(8000, 10 + i)));
    }
    for (int i = 0; i < 4; ++i) EXPECT_EQ(trips[i].wait(10s), payload(8000, 10 + i)) << i;
    PipeChannels p;
    const std::string data = payload(8000, 7);
    auto r = read_exactly(p.in.get(), data.size());
    for (std::size_t off = 0; off < data.size(); off += 1000) p.out->write(data.substr(off, 1000));
    EXPECT_EQ(r.wait(10s), data);
    EXPECT_GT(g.injected[kRead], 1000);
    EXPECT_GT(g.injected[kSend], 1000);
}

// A peer that never reads (a small kernel buffer, really full): the write queue stops at
// queue_size with kaa's error, memory stays bounded, and the loop sleeps while blocked.
TEST(FaultInjection, PeerThatNeverReadsBoundsTheQueueAndTheLoopDoesNotSpin) {
    kaa::test::ReportCapture cap;  // the writes still queued fail when the socket closes
    kaa::Socket server;
    server.listen("127.0.0.1:0");
    auto accepted = server.accept();
    kaa::Socket client(4096);
    client.connect(tcp(server)).wait(2s);
    auto peer = accepted.wait(2s);
    peer->set_buffer_size(4096);
    peer->set_queue_size(64 * 1024);
    std::string error;
    for (int i = 0; i < 1000 && error.empty(); ++i) {
        try {
            peer->write(std::string(4096, 'n'));
        } catch (const std::invalid_argument& e) {
            error = e.what();
        } catch (const std::system_error& e) {
            error = e.what();
        }
    }
    EXPECT_FALSE(error.empty());
    EXPECT_LE(peer->write_queue_used(), peer->queue_size());
    IterationCounter it;
    kaa::main::loop(true, 30ms);
    EXPECT_LT(it.n, 10);
    EXPECT_LE(peer->write_queue_used(), peer->queue_size());
    EXPECT_TRUE(peer->connected());
    peer->close(true);
}

// A slow-loris client sends a line one byte per loop iteration; meanwhile another client's
// round trips all complete (the server is never stuck on the slow one), and the slow line
// still comes back whole at the end.
TEST(FaultInjection, SlowLorisDoesNotStallOtherClients) {
    kaa::Socket server;
    server.listen("127.0.0.1:0");
    // A line server: echoes each complete line.
    std::vector<std::shared_ptr<kaa::Socket>> clients;
    server.new_client_signal().connect([&](const std::shared_ptr<kaa::Socket>& c) {
        clients.push_back(c);
        [](std::shared_ptr<kaa::Socket> c) -> kaa::Coroutine<> {
            for (;;) {
                std::string line = co_await c->readline();
                if (line.empty()) break;
                co_await c->write(std::move(line));
            }
        }(c);
    });
    const std::string address = tcp(server);
    const std::string slow_line = std::string(2000, 's') + "\n";
    auto slow = std::make_shared<kaa::Socket>();
    slow->connect(address).wait(2s);
    std::size_t sent = 0;
    kaa::ScopedConnection drip{kaa::main::signals().step.connect([&] {
        if (sent < slow_line.size() && slow->alive()) slow->write(slow_line.substr(sent++, 1));
    })};
    auto slow_echo = read_exactly(slow.get(), slow_line.size());
    auto fast = std::make_shared<kaa::Socket>();
    fast->connect(address).wait(2s);
    for (int i = 0; i < 20; ++i) {
        const std::string line = "fast " + std::to_string(i) + "\n";
        EXPECT_EQ(round_trip_existing(fast, line).wait(2s), line);
    }
    EXPECT_LT(sent, slow_line.size()) << "the slow client finished before the fast one";
    EXPECT_EQ(slow_echo.wait(10s), slow_line);
    drip.reset();
}
