// A tour of kaa::Signal and kaa::Signals: connect, bound arguments, once, weak connections,
// emit()'s return value, and a named collection of signals. Runs without a main loop.

#include <kaa/signal.hpp>

#include <cstdio>
#include <memory>
#include <string>

namespace {

void greet(const std::string& who, const std::string& greeting) {
    std::printf("  %s, %s!\n", greeting.c_str(), who.c_str());
}

struct Logger {
    std::string prefix;
    void log(const std::string& who) { std::printf("  %s saw %s\n", prefix.c_str(), who.c_str()); }
};

}  // namespace

int main() {
    kaa::Signal<const std::string&> arrived;

    std::puts("connect with a bound argument (emitted arguments come first):");
    arrived.connect(&greet, std::string("hello"));
    arrived.emit("world");

    std::puts("connect_once (gone after one emission):");
    arrived.connect_once(
        [](const std::string& who) { std::printf("  first visitor: %s\n", who.c_str()); });
    arrived.emit("ada");
    arrived.emit("bob");

    std::puts("connect_weak (lives as long as its owner):");
    auto logger = std::make_shared<Logger>(Logger{"logger"});
    arrived.connect_weak(logger, &Logger::log);
    arrived.emit("carol");
    logger.reset();
    std::printf("  connections after the logger died: %zu\n", arrived.count());

    std::puts("emit() returns false iff a callback returned exactly false:");
    kaa::Connection veto = arrived.connect([](const std::string& who) { return who != "mallory"; });
    std::printf("  emit(\"dave\") -> %s\n", arrived.emit("dave") ? "true" : "false");
    std::printf("  emit(\"mallory\") -> %s\n", arrived.emit("mallory") ? "true" : "false");
    arrived.disconnect(veto);

    std::puts("Signals: a named, ordered collection:");
    kaa::Signals<int> io{"read", "closed"};
    io.connect("read", [](int n) { std::printf("  read %d bytes\n", n); });
    io.emit("read", 42);
    kaa::Signals<int> just_read = io.subset("read");
    std::printf("  the subset shares the signal: %zu connection(s)\n", just_read.count("read"));
    return 0;
}
