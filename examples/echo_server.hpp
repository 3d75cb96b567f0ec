#pragma once
// The echo server's per-client coroutine, shared by examples/echo_server.cpp (the program B5
// and echo_server_chaos run) and examples/tour.cpp (which serves a few local clients with it).
//
// Threads: main-loop thread only.

#include <kaa/kaa.hpp>

#include <exception>
#include <memory>
#include <string>

namespace example {

/// Serves one client: reads and writes back what it reads until the client goes away (EOF),
/// then closes the connection. A reset or a write after the peer vanished ends this client
/// only.
inline kaa::Coroutine<> serve_echo(std::shared_ptr<kaa::Socket> client) {
    try {
        for (;;) {
            std::string data = co_await client->read();
            if (data.empty()) break;  // EOF: the client is gone
            co_await client->write(std::move(data));
        }
    } catch (const std::exception&) {
        // A reset or a write after the peer vanished: this client only.
    }
    client->close(true);
}

/// Serves every client that connects to `server` (a listening Socket) with serve_echo().
inline void serve_echo_clients(kaa::Socket& server) {
    server.new_client_signal().connect(
        [](const std::shared_ptr<kaa::Socket>& client) { serve_echo(client); });
}

}  // namespace example
