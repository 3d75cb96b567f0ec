// kaa::Event and kaa::EventHandler: application-wide named events, dispatched through the main
// loop. Reproduces kaa's test/events.py (docs/semantics.md [event.dispatch.1]), then shows a
// handler that returns an InProgress (awaited before the next handler) and an event posted from a
// worker thread. Exits 0.
//
// Expected output:
//   got FOO
//   foo got FOO
//   FOO_EVENT
//   got BAR with 1
//   BAR_EVENT
//   got BAR with 2
//   BAR_EVENT
//   slow handler: started SAVE
//   slow handler: done with SAVE
//   next handler: SAVE
//   from a thread: 42 (handled on the main thread: yes)

#include <kaa/coroutine.hpp>
#include <kaa/delay.hpp>
#include <kaa/event.hpp>
#include <kaa/main.hpp>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

const kaa::Event FOO_EVENT("FOO_EVENT");

void foobar(const kaa::Event& event) {
    if (event == "FOO_EVENT") {
        std::cout << "got FOO\n";
    } else if (event == "BAR_EVENT") {
        std::cout << "got BAR with " << event.arg_as<int>() << '\n';
    }
}

void foo(const kaa::Event& event) {
    std::cout << (event == "FOO_EVENT" ? "foo got FOO" : "This can not happen") << '\n';
}

void all(const kaa::Event& event) { std::cout << event << '\n'; }

/// A handler that takes time: the dispatcher awaits it before calling the next handler.
kaa::Coroutine<> slow(const kaa::Event& event) {
    std::cout << "slow handler: started " << event << '\n';
    co_await kaa::delay(10ms);
    std::cout << "slow handler: done with " << event << '\n';
}

}  // namespace

int main() {
    // test/events.py: by names, by Event objects, and [] for every event.
    kaa::EventHandler h1(&foobar);
    h1.register_events({"FOO_EVENT", "BAR_EVENT"});
    kaa::EventHandler h2(&foo);
    h2.register_events({FOO_EVENT});
    kaa::EventHandler h3(&all);
    h3.register_events({});

    FOO_EVENT.post();
    kaa::Event("BAR_EVENT").post(1);
    kaa::Event("BAR_EVENT", 2).post();
    kaa::main::step();  // dispatched after this loop iteration (post() woke the loop)
    h3.unregister();    // quieter from here on

    // A handler returning an InProgress is awaited before the next handler runs.
    bool saved = false;
    kaa::EventHandler h4(&slow);
    kaa::EventHandler h5([&saved](const kaa::Event& e) {
        std::cout << "next handler: " << e << '\n';
        saved = true;
    });
    h4.register_events({"SAVE"});
    h5.register_events({"SAVE"});
    kaa::Event("SAVE").post();
    kaa::main::loop([&] { return !saved; }, 5s);

    // post() from any thread: the handler runs on the main-loop thread.
    bool got = false;
    kaa::EventHandler h6([&got](const kaa::Event& e) {
        std::cout << "from a thread: " << e.arg_as<int>()
                  << " (handled on the main thread: " << (kaa::main::is_mainthread() ? "yes" : "no")
                  << ")\n";
        got = true;
    });
    h6.register_events({"WORK_DONE"});
    std::thread([] { kaa::Event("WORK_DONE").post(42); }).join();
    kaa::main::loop([&] { return !got; }, 5s);
    return got && saved ? 0 : 1;
}
