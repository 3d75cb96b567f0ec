#pragma once
// The seed's fetch_page (seed/coroutines.rst), both forms — a coroutine, and the same steps
// as callbacks — against a tiny HTTP server started here on 127.0.0.1, so that it runs
// offline. examples/fetch_page.cpp runs it with std::cout; tests/seed_examples_test.cpp with a
// std::ostringstream.
//
// Translation notes: the seed's `(host, 80)` is an address string "host:port"; `print` is
// `out << ... << '\n'`; the programs stop the loop when the page arrived.
//
// Threads: main-loop thread only.

#include <kaa/kaa.hpp>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

namespace example {

/// @kaa.coroutine() def fetch_page(host): fetches / from `address` and prints the reply.
inline kaa::Coroutine<> fetch_page(std::ostream& out, std::string address) {
    auto socket = std::make_shared<kaa::Socket>();
    // Socket.connect() resolves names on a thread and connects on the loop.
    co_await socket->connect(address);
    // Socket.read() and write() are single-thread asynchronous I/O.
    co_await socket->write("GET / HTTP/1.1\n\n");
    out << co_await socket->read() << '\n';
}

/// The seed's callback form of fetch_page: one function per step. (The C++ version passes
/// `done` along, called once the page was printed, so that the program can stop.)
namespace callbacks {

using Done = std::function<void()>;

inline void finished_read(std::ostream& out, const std::string& data, const Done& done) {
    out << data << '\n';
    done();
}

inline void finished_write(std::ostream& out, const std::shared_ptr<kaa::Socket>& socket,
                           Done done) {
    socket->read().connect(
        [&out, socket, done](const std::string& data) { finished_read(out, data, done); });
}

inline void finished_connect(std::ostream& out, const std::shared_ptr<kaa::Socket>& socket,
                             Done done) {
    socket->write("GET / HTTP/1.1\n\n").connect([&out, socket, done](std::size_t) {
        finished_write(out, socket, done);
    });
}

/// Starts fetching; as in the seed, nothing is returned: the socket lives in the callbacks.
inline void fetch_page(std::ostream& out, const std::string& address, Done done) {
    auto socket = std::make_shared<kaa::Socket>();
    socket->connect(address).connect([&out, socket, done] { finished_connect(out, socket, done); });
}

}  // namespace callbacks

/// The page the local server sends.
inline const std::string& page_body() {
    static const std::string body = "<html><body>Hello from kaa</body></html>";
    return body;
}

/// Serves one HTTP request: reads the request up to its empty line, sends the page, closes.
inline kaa::Coroutine<> serve_http(std::shared_ptr<kaa::Socket> client) {
    for (;;) {
        std::string line = co_await client->readline();
        if (line.empty() || line == "\n" || line == "\r\n") break;
    }
    co_await client->write("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: " +
                           std::to_string(page_body().size()) + "\r\n\r\n" + page_body());
    co_await client->close();
}

/// A tiny HTTP server on 127.0.0.1 (a free port).
struct LocalHttpServer {
    kaa::Socket socket;
    LocalHttpServer() {
        socket.listen("127.0.0.1:0");
        socket.new_client_signal().connect(
            [](const std::shared_ptr<kaa::Socket>& client) { serve_http(client); });
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(socket.local().port); }
};

/// Runs both forms, one after the other, printing each reply; returns when both are done.
inline void run_fetch_page(std::ostream& out) {
    LocalHttpServer server;
    const std::string address = server.address();
    out << "coroutine:\n";
    fetch_page(out, address)
        .connect_both(
            [&out, address] {
                out << "callbacks:\n";
                callbacks::fetch_page(out, address, [] { kaa::main::stop(); });
            },
            [&out](std::exception_ptr e) {
                out << "fetch_page failed: " << kaa::describe_exception(e) << '\n';
                kaa::main::stop();
            });
    kaa::main::run();
}

}  // namespace example
