#pragma once
// Socket helpers shared by the socket, fault-injection and soak tests (test code only):
//   tcp(server)                     "127.0.0.1:<port>" of a listening socket
//   echo(client)                    a coroutine echoing every chunk until EOF
//   EchoServer server(address)      listens and serves each client with echo()
//   round_trip(s, address, msg)     connects, writes msg, reads until as many bytes came back
//   round_trip_existing(s, msg)     the same on a connected socket
//
// Threads: main-loop thread only.

#include <kaa/coroutine.hpp>
#include <kaa/socket.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace kaa::test {

inline std::string tcp(const kaa::Socket& server) {
    return "127.0.0.1:" + std::to_string(server.local().port);
}

// Echoes every chunk until EOF: one coroutine per client.
inline kaa::Coroutine<> echo(std::shared_ptr<kaa::Socket> client) {
    for (;;) {
        std::string data = co_await client->read();
        if (data.empty()) break;
        co_await client->write(std::move(data));
    }
}

// Accepts clients and serves each with echo().
struct EchoServer {
    kaa::Socket socket;
    std::vector<std::shared_ptr<kaa::Socket>> clients;
    explicit EchoServer(const std::string& address, int backlog = 128) {
        socket.listen(address, backlog);
        socket.new_client_signal().connect([this](const std::shared_ptr<kaa::Socket>& c) {
            clients.push_back(c);
            echo(c);
        });
    }
};

inline kaa::Coroutine<std::string> round_trip_existing(std::shared_ptr<kaa::Socket> s,
                                                       std::string message) {
    co_await s->write(message);
    std::string got;
    while (got.size() < message.size()) {
        std::string chunk = co_await s->read();
        if (chunk.empty()) break;
        got += chunk;
    }
    co_return got;
}

inline kaa::Coroutine<std::string> round_trip(std::shared_ptr<kaa::Socket> s, std::string address,
                                              std::string message) {
    co_await s->connect(address);
    co_return co_await round_trip_existing(s, std::move(message));
}

}  // namespace kaa::test
