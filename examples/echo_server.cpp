// An echo server: one coroutine per client, each reading and writing back until the client
// goes away. Serves until SIGINT or SIGTERM.
//
//   echo_server PORT            127.0.0.1:PORT
//   echo_server --unix PATH     a Unix socket at PATH (replaced if dead, unlinked on exit)
//
// Used by B5 (bench/); the tour serves a few local clients with the same code (the coroutine
// is in echo_server.hpp). A client that resets, sends garbage, half-closes or vanishes only ends
// its own coroutine; when fds run out the server stops accepting for a moment and serves the
// clients it has (docs/semantics.md [io.socket.emfile]).

#include "echo_server.hpp"

#include <kaa/kaa.hpp>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>

namespace {

int usage(const char* argv0) {
    std::cerr << "usage: " << argv0 << " PORT | --unix PATH\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::string address;
    if (argc == 2 && std::strcmp(argv[1], "--unix") != 0) {
        char* end = nullptr;
        long port = std::strtol(argv[1], &end, 10);
        if (*end != '\0' || port < 0 || port > 65535) return usage(argv[0]);
        address = "127.0.0.1:" + std::to_string(port);
    } else if (argc == 3 && std::strcmp(argv[1], "--unix") == 0 && argv[2][0] == '/') {
        address = argv[2];
    } else {
        return usage(argv[0]);
    }

    kaa::Socket server;
    try {
        server.listen(address, 1024);
    } catch (const std::exception& e) {
        std::cerr << "echo_server: " << e.what() << '\n';
        return 1;
    }
    example::serve_echo_clients(server);  // one coroutine per client: echo_server.hpp
    std::cerr << "echo_server: serving " << server.local().to_string() << '\n';
    kaa::main::run();  // until SIGINT or SIGTERM
    server.close();
    return 0;
}
