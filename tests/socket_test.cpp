// Tests for kaa/socket.hpp: Socket over TCP (127.0.0.1, ::1) and Unix sockets
// (docs/semantics.md [io.socket], [check.H115]–[check.H118]). Test names end with the number
// of the checklist item they prove (kaa-reference §12 H). Loopback and Unix sockets only.
//
// The loop is driven by waiting on InProgress objects (wait(timeout)) or by
// main::loop(condition, timeout); nothing sleeps.

#include <kaa/coroutine.hpp>
#include <kaa/errors.hpp>
#include <kaa/main.hpp>
#include <kaa/socket.hpp>

#include "socket_util.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

using namespace std::chrono_literals;

// The sanitizers need free fds of their own (UBSan probes memory through a pipe, reports open
// files): under them (KAA_TEST_SANITIZED) the fd-exhaustion test cannot run.
#include "sanitized.hpp"

namespace {

using kaa::test::echo;
using kaa::test::EchoServer;
using kaa::test::round_trip;
using kaa::test::round_trip_existing;
using kaa::test::tcp;

// A path for a Unix socket, unique to this process and test.
std::string unix_path(const char* name) {
    return "/tmp/kaa-socket-test-" + std::to_string(::getpid()) + "-" + name;
}

}  // namespace

// [check.H115] (also Q15: listening on port 0 and local() of a TCP socket work)
TEST(Socket, ListenAndConnectMeet_H115) {
    kaa::Socket server;
    server.listen("127.0.0.1:0");
    EXPECT_TRUE(server.listening());
    EXPECT_TRUE(server.alive());
    EXPECT_FALSE(server.connected());
    ASSERT_NE(server.local().port, 0);
    std::vector<std::shared_ptr<kaa::Socket>> clients;
    server.new_client_signal().connect(
        [&](const std::shared_ptr<kaa::Socket>& c) { clients.push_back(c); });
    auto accepted = server.accept();
    EXPECT_EQ(server.accept(), accepted);  // shared until the next client

    kaa::Socket client;
    auto ip = client.connect(tcp(server));
    ip.wait(2s);
    EXPECT_TRUE(client.connected());
    EXPECT_FALSE(client.connecting());
    EXPECT_EQ(client.requested_host(), "127.0.0.1");
    EXPECT_EQ(client.peer().port, server.local().port);
    kaa::main::loop([&] { return clients.empty(); }, 2s);
    ASSERT_EQ(clients.size(), 1u);
    ASSERT_TRUE(accepted.finished());
    EXPECT_EQ(accepted.result(), clients[0]);
    EXPECT_TRUE(clients[0]->connected());
    EXPECT_EQ(clients[0]->peer().port, client.local().port);
    EXPECT_EQ(clients[0]->local().port, server.local().port);

    client.write("hello");
    EXPECT_EQ(clients[0]->read().wait(2s), "hello");
    clients[0]->write("back");
    EXPECT_EQ(client.read().wait(2s), "back");
}

// [check.H116]
TEST(Socket, ConnectOnAConnectedSocketThrows_H116) {
    EchoServer server("127.0.0.1:0");
    kaa::Socket client;
    auto ip = client.connect(tcp(server.socket));
    EXPECT_THROW(client.connect(tcp(server.socket)), kaa::SocketError);  // in progress or done
    ip.wait(2s);
    try {
        client.connect(tcp(server.socket));
        ADD_FAILURE() << "no exception";
    } catch (const kaa::SocketError& e) {
        EXPECT_STREQ(e.what(), "socket already connected");
    }
}

// [check.H116] Q14: a failed connect resets connecting(), and a new connect() is allowed.
TEST(Socket, FailedConnectAllowsANewConnect_H116) {
    std::string refused;
    {
        kaa::Socket probe;
        probe.listen("127.0.0.1:0");
        refused = tcp(probe);
    }  // closed: nobody listens on that port now
    kaa::Socket client;
    auto ip = client.connect(refused);
    try {
        ip.wait(2s);
        ADD_FAILURE() << "connect succeeded";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), ECONNREFUSED);
    }
    EXPECT_FALSE(client.connecting());
    EXPECT_FALSE(client.alive());
    EchoServer server("127.0.0.1:0");
    client.connect(tcp(server.socket)).wait(2s);
    EXPECT_TRUE(client.connected());
}

// [check.H117] (the parser's own tests are in socket_address_test.cpp)
TEST(Socket, AddressNotation_H117) {
    EXPECT_EQ(kaa::normalize_address(80), kaa::SocketAddress::inet("", 80));
    EXPECT_EQ(kaa::normalize_address("1.2.3.4:99"), kaa::SocketAddress::inet("1.2.3.4", 99));
    EXPECT_EQ(kaa::normalize_address("[::1]:80"), kaa::SocketAddress::inet("::1", 80));
    EXPECT_EQ(kaa::normalize_address("localhost:http").port, 80);
    EXPECT_THROW(kaa::normalize_address("1::2"), std::invalid_argument);
    kaa::Socket s;
    EXPECT_THROW(s.connect("1::2"), std::invalid_argument);
    EXPECT_THROW(s.connect("localhost:no-such-service-kaa"), kaa::SocketError);
    EXPECT_THROW(s.listen("127.0.0.1:99999"), std::invalid_argument);
    EXPECT_FALSE(s.connecting());
    EXPECT_FALSE(s.listening());
}

// [check.H118]
TEST(Socket, PeerCloseEndsReadsAndTheConnection_H118) {
    EchoServer server("127.0.0.1:0");
    auto client = std::make_shared<kaa::Socket>();
    std::vector<bool> closed;
    client->connect(tcp(server.socket)).wait(2s);
    kaa::main::loop([&] { return server.clients.empty(); }, 2s);
    ASSERT_EQ(server.clients.size(), 1u);
    auto peer = server.clients[0];
    peer->closed_signal().connect([&](bool e) { closed.push_back(e); });
    auto r = peer->read();
    client->close();
    EXPECT_EQ(r.wait(2s), "");
    EXPECT_FALSE(peer->connected());
    EXPECT_EQ(closed, std::vector<bool>{false});
}

// [check.H118]
TEST(Socket, CloseOnEofCannotBeFalse_H118) {
    kaa::Socket s;
    try {
        s.set_close_on_eof(false);
        ADD_FAILURE() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "close_on_eof cannot be False for sockets");
    }
    EXPECT_TRUE(s.close_on_eof());
}

TEST(Socket, EchoOverIPv6) {
    EchoServer* server = nullptr;
    std::unique_ptr<EchoServer> holder;
    try {
        holder = std::make_unique<EchoServer>("[::1]:0");
        server = holder.get();
    } catch (const std::system_error& e) {
        GTEST_SKIP() << "::1 unavailable: " << e.what();
    }
    EXPECT_EQ(server->socket.local().host, "::1");
    auto s = std::make_shared<kaa::Socket>();
    auto rt = round_trip(s, "[::1]:" + std::to_string(server->socket.local().port), "six");
    EXPECT_EQ(rt.wait(2s), "six");
}

TEST(Socket, EchoOverAUnixSocketWhosePathIsUnlinkedOnClose) {
    const std::string path = unix_path("echo");
    ::unlink(path.c_str());
    {
        EchoServer server(path);
        struct stat st {};
        ASSERT_EQ(::stat(path.c_str(), &st), 0);
        EXPECT_EQ(server.socket.local().path, path);
        auto s = std::make_shared<kaa::Socket>();
        EXPECT_EQ(round_trip(s, path, "unix").wait(2s), "unix");
        EXPECT_EQ(s->requested_host(), path);
        server.socket.close();
        EXPECT_FALSE(server.socket.listening());
        EXPECT_NE(::stat(path.c_str(), &st), 0);
    }
}

// An accepted client keeps its peer without a SocketCore of its own (the raw sockaddr, 28
// bytes at most): IPv6 with its port, and an unnamed Unix client; it holds no connect or listen
// state ([io.socket.address]).
TEST(Socket, AcceptedClientKnowsItsPeerOverIPv6AndUnix) {
    std::unique_ptr<EchoServer> v6;
    try {
        v6 = std::make_unique<EchoServer>("[::1]:0");
    } catch (const std::system_error& e) {
        GTEST_SKIP() << "::1 unavailable: " << e.what();
    }
    kaa::Socket c6;
    c6.connect("[::1]:" + std::to_string(v6->socket.local().port)).wait(2s);
    kaa::main::loop([&] { return v6->clients.empty(); }, 2s);
    ASSERT_EQ(v6->clients.size(), 1u);
    const kaa::SocketAddress p6 = v6->clients[0]->peer();
    EXPECT_EQ(p6.host, "::1");
    EXPECT_EQ(p6.port, c6.local().port);
    EXPECT_EQ(v6->clients[0]->requested_host(), "");
    EXPECT_FALSE(v6->clients[0]->connecting());
    EXPECT_FALSE(v6->clients[0]->listening());
    EXPECT_FALSE(v6->clients[0]->accept_paused());

    const std::string path = unix_path("peer");
    ::unlink(path.c_str());
    EchoServer ux(path);
    kaa::Socket cu;
    cu.connect(path).wait(2s);
    kaa::main::loop([&] { return ux.clients.empty(); }, 2s);
    ASSERT_EQ(ux.clients.size(), 1u);
    EXPECT_TRUE(ux.clients[0]->peer().is_unix());
    EXPECT_EQ(ux.clients[0]->peer().path, "");  // the client's socket has no name
    ux.clients[0]->close();
    EXPECT_TRUE(ux.clients[0]->peer().is_unix());  // kept after close
}

// Q15: a dead Unix socket path is replaced, a live one gives EADDRINUSE.
TEST(Socket, UnixListenReplacesADeadPathButNotALiveOne) {
    const std::string path = unix_path("dead");
    ::unlink(path.c_str());
    {
        // Leaves a dead socket file behind: bound, never unlinked.
        int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        auto sa = kaa::unix_sockaddr(path);
        ASSERT_EQ(::bind(fd, sa.get(), sa.length), 0);
        ::close(fd);
    }
    kaa::Socket server;
    server.listen(path);
    kaa::Socket second;
    try {
        second.listen(path);
        ADD_FAILURE() << "no exception";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), EADDRINUSE);
    }
    EXPECT_FALSE(second.listening());
    server.close();
}

TEST(Socket, NewClientConnectingCallbackReturningFalseRefuses) {
    kaa::Socket server;
    server.listen("127.0.0.1:0");
    int asked = 0;
    server.new_client_connecting_signal().connect([&] {
        ++asked;
        return false;
    });
    int accepted = 0;
    server.new_client_signal().connect([&](const std::shared_ptr<kaa::Socket>&) { ++accepted; });
    kaa::Socket client;
    client.connect(tcp(server)).wait(2s);   // the kernel accepted it
    EXPECT_EQ(client.read().wait(2s), "");  // then the server closed it
    EXPECT_EQ(asked, 1);
    EXPECT_EQ(accepted, 0);
}

// Resolution runs on a thread; aborting the connect ends it and allows a new one.
TEST(Socket, ConnectByNameOnAThreadAndAbort) {
    EchoServer server("127.0.0.1:0");
    const std::string port = std::to_string(server.socket.local().port);
    auto s = std::make_shared<kaa::Socket>();
    auto ip = s->connect("localhost:" + port, false);
    EXPECT_TRUE(s->connecting());
    EXPECT_TRUE(s->alive());
    ip.abort();
    EXPECT_FALSE(s->connecting());
    EXPECT_TRUE(kaa::holds<kaa::InProgressAborted>(ip.exception()));
    auto again = s->connect("localhost:" + port, false);
    again.wait(2s);
    EXPECT_TRUE(s->connected());
    EXPECT_EQ(s->requested_host(), "localhost");
}

TEST(Socket, ConnectWithTimeout) {
    EchoServer server("127.0.0.1:0");
    auto s = std::make_shared<kaa::Socket>();
    s->connect(tcp(server.socket)).timeout(2s, {}, true).wait(2s);
    EXPECT_TRUE(s->connected());
}

TEST(Socket, ReadWhileConnectingWaitsForTheConnection) {
    EchoServer server("127.0.0.1:0");
    kaa::Socket s;
    auto c = s.connect("localhost:" + std::to_string(server.socket.local().port), false);
    auto r = s.read();
    EXPECT_FALSE(r.finished());
    c.wait(2s);
    s.write("early");
    EXPECT_EQ(r.wait(2s), "early");
}

TEST(Socket, BufferSizeIsApplied) {
    kaa::Socket server(65536);
    server.listen("127.0.0.1:0");
    int v = 0;
    socklen_t len = sizeof v;
    ASSERT_EQ(::getsockopt(server.fileno(), SOL_SOCKET, SO_RCVBUF, &v, &len), 0);
    EXPECT_GE(v, 65536);  // Linux doubles it
    EXPECT_EQ(server.buffer_size(), 65536);
}

// The peer resets the connection while the server still has data queued for it.
TEST(Socket, PeerResetMidWriteFailsTheWriteAndCloses) {
    kaa::test::ReportCapture cap;
    kaa::Socket server;
    server.listen("127.0.0.1:0");
    auto accepted = server.accept();
    kaa::Socket client(4096);
    client.connect(tcp(server)).wait(2s);
    auto peer = accepted.wait(2s);
    std::vector<bool> closed;
    peer->closed_signal().connect([&](bool e) { closed.push_back(e); });
    peer->set_buffer_size(4096);
    peer->set_queue_size(16 << 20);
    auto w = peer->write(std::string(8 << 20, 'r'));  // more than the socket buffers hold
    ASSERT_FALSE(w.finished());
    linger lg{1, 0};  // close() sends RST
    ::setsockopt(client.fileno(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    client.close(true);
    EXPECT_THROW(w.wait(2s), std::system_error);
    kaa::main::loop([&] { return closed.empty(); }, 2s);
    EXPECT_EQ(closed, std::vector<bool>{false});
    EXPECT_FALSE(peer->alive());
}

// A peer that never reads: the writer's queue fills up to queue_size and then the writer gets
// kaa's error instead of unbounded memory.
TEST(Socket, PeerThatNeverReadsFillsTheBoundedWriteQueue) {
    kaa::test::ReportCapture cap;  // the writes still queued fail when the socket closes
    kaa::Socket server;
    server.listen("127.0.0.1:0");
    auto accepted = server.accept();
    kaa::Socket client;
    client.connect(tcp(server)).wait(2s);
    auto peer = accepted.wait(2s);
    peer->set_queue_size(256 * 1024);
    const std::string chunk(64 * 1024, 'q');
    std::string error;
    for (int i = 0; i < 10000 && error.empty(); ++i) {
        try {
            peer->write(chunk);
        } catch (const std::invalid_argument& e) {
            error = e.what();
        } catch (const std::system_error& e) {
            error = e.what();
        }
    }
    EXPECT_TRUE(error == "Data would exceed write queue limit" ||
                error.find("Channel is not writable") != std::string::npos)
        << error;
    EXPECT_LE(peer->write_queue_used(), peer->queue_size());
    EXPECT_TRUE(peer->connected());  // still usable
    peer->close(true);
}

// A client that half-closes after sending still gets its echo (queued writes drain before
// the EOF closes the socket).
TEST(Socket, HalfClosedClientStillGetsItsEcho) {
    EchoServer server("127.0.0.1:0");
    kaa::Socket client;
    client.connect(tcp(server.socket)).wait(2s);
    client.write("last words").wait(2s);
    ::shutdown(client.fileno(), SHUT_WR);
    std::string got;
    for (;;) {
        std::string chunk = client.read().wait(2s);
        if (chunk.empty()) break;
        got += chunk;
    }
    EXPECT_EQ(got, "last words");
}

// Many concurrent connections on one loop, every one echoing (the issue asks for 5,000; the
// count is bounded by the fd limit, two fds per connection in this process).
TEST(Socket, ManyConcurrentConnectionsAllEcho) {
    rlimit rl{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &rl), 0);
    const rlimit saved = rl;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    const auto room = static_cast<long>(rl.rlim_cur) - 64;
    const int n = static_cast<int>(std::min<long>(5000, room / 2));
    ASSERT_GT(n, 100);
    {
        EchoServer server("127.0.0.1:0", 4096);
        const std::string address = tcp(server.socket);
        std::vector<std::shared_ptr<kaa::Socket>> sockets;
        std::vector<kaa::Coroutine<std::string>> trips;
        for (int i = 0; i < n; ++i) {
            sockets.push_back(std::make_shared<kaa::Socket>());
            trips.push_back(round_trip(sockets.back(), address, "msg" + std::to_string(i)));
        }
        kaa::main::loop(
            [&] {
                return !std::all_of(trips.begin(), trips.end(),
                                    [](const auto& t) { return t.finished(); });
            },
            20s);
        int ok = 0;
        for (int i = 0; i < n; ++i) {
            if (trips[i].finished() && !trips[i].failed() &&
                trips[i].result() == "msg" + std::to_string(i)) {
                ++ok;
            }
        }
        EXPECT_EQ(ok, n);
        EXPECT_EQ(server.clients.size(), static_cast<std::size_t>(n));
    }
    ::setrlimit(RLIMIT_NOFILE, &saved);
}

// EMFILE on accept: the server keeps serving its clients, does not spin, and accepts again
// once fds are free.
TEST(Socket, AcceptSurvivesFdExhaustion) {
#if KAA_TEST_SANITIZED
    GTEST_SKIP() << "the sanitizers need free fds themselves";
#endif
    EchoServer server("127.0.0.1:0");
    const std::string address = tcp(server.socket);
    // One client served before the exhaustion.
    auto first = std::make_shared<kaa::Socket>();
    ASSERT_EQ(round_trip(first, address, "before").wait(2s), "before");

    // Eight more connect at the kernel level (the backlog holds them), while the process may
    // open only one more fd.
    constexpr int kWaiting = 8;
    std::vector<int> raw;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(server.socket.local().port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < kWaiting; ++i) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
        raw.push_back(fd);
    }
    // Everything the exhausted phase uses is set up first: under the sanitizers a first use
    // of a type may need a free fd (UBSan checks memory through a pipe).
    int iterations = 0;
    auto counter = kaa::main::signals().step.connect([&] { ++iterations; });
    rlimit saved{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
    int lowest = ::dup(0);
    ::close(lowest);
    rlimit low = saved;
    low.rlim_cur = static_cast<rlim_t>(lowest + 1);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);

    kaa::main::loop([&] { return !server.socket.accept_paused(); }, 2s);
    EXPECT_TRUE(server.socket.accept_paused());
    EXPECT_LT(server.clients.size(), 1u + kWaiting);
    // The client served before still gets its echo meanwhile.
    EXPECT_EQ(round_trip_existing(first, "during").wait(2s), "during");
    iterations = 0;
    kaa::main::loop(true, 30ms);  // paused: the loop sleeps instead of spinning
    EXPECT_LT(iterations, 10);
    kaa::main::signals().step.disconnect(counter);

    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
    kaa::main::loop([&] { return server.clients.size() < 1u + kWaiting; }, 2s);
    EXPECT_EQ(server.clients.size(), 1u + kWaiting);
    EXPECT_FALSE(server.socket.accept_paused());
    for (int fd : raw) {
        ASSERT_EQ(::write(fd, "x", 1), 1);
    }
    for (int fd : raw) {
        char c = 0;
        // The echo arrives once the loop ran: drive it until this fd has its byte.
        kaa::main::loop([&] { return ::recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) != 1; }, 2s);
        EXPECT_EQ(::read(fd, &c, 1), 1);
        ::close(fd);
    }
}
