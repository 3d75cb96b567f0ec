// Tests for kaa/event.hpp: Event values, EventHandler registration and dispatch through the
// main loop ([event], [event.dispatch.1] test/events.py, [check.I119], [event.post.2]).
//
// The registry is process-wide: every test unregisters its handlers (HandlerGuard) and drains
// the queue with kaa::main::step() (a post() wakes the loop, so a step never sleeps).

#include <kaa/event.hpp>

#include <kaa/coroutine.hpp>
#include <kaa/errors.hpp>
#include <kaa/inprogress.hpp>
#include <kaa/main.hpp>

#include "test_util.hpp"

#include <gtest/gtest.h>

#include <any>
#include <chrono>
#include <initializer_list>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

using namespace std::chrono_literals;
using kaa::test::ReportCapture;

namespace {

/// Unregisters the handlers it was given when the test ends.
class HandlerGuard {
public:
    HandlerGuard(std::initializer_list<kaa::EventHandler> handlers) : handlers_(handlers) {}
    ~HandlerGuard() {
        for (auto& h : handlers_) h.unregister();
    }
    HandlerGuard(const HandlerGuard&) = delete;
    HandlerGuard& operator=(const HandlerGuard&) = delete;

private:
    std::vector<kaa::EventHandler> handlers_;
};

/// One main-loop step that cannot block long: a post() just woke the loop, or `due` is set.
void step_once() {
    const auto start = std::chrono::steady_clock::now();
    kaa::main::step();
    // A post() wakes the loop ([event.post.2]): the step must not have slept for kaa's idle 30 s.
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

}  // namespace

// docs/semantics.md [event.dispatch.1]: test/events.py — handlers registered by names, by Event
// objects and for all events get the three posted events in registration order, after the next
// main-loop step. [check.I119]
TEST(Event, ReferenceEventsPyOutput) {
    std::vector<std::string> out;
    const kaa::Event FOO_EVENT("FOO_EVENT");

    kaa::EventHandler foobar([&out](const kaa::Event& event) {
        if (event == "FOO_EVENT") {
            out.push_back("got FOO");
        } else if (event == "BAR_EVENT") {
            out.push_back("got BAR with " + std::to_string(event.arg_as<int>()));
        }
    });
    foobar.register_events({"FOO_EVENT", "BAR_EVENT"});

    kaa::EventHandler foo([&out](const kaa::Event& event) {
        out.push_back(event == "FOO_EVENT" ? "foo got FOO" : "This can not happen");
    });
    foo.register_events({FOO_EVENT});

    kaa::EventHandler all([&out](const kaa::Event& event) {
        std::ostringstream s;
        s << event;
        out.push_back(s.str());
    });
    all.register_events({});
    HandlerGuard guard{foobar, foo, all};

    FOO_EVENT.post();
    kaa::Event("BAR_EVENT").post(1);
    kaa::Event("BAR_EVENT", 2).post();
    EXPECT_TRUE(out.empty());  // never dispatched inside post()

    step_once();
    EXPECT_EQ(out,
              (std::vector<std::string>{"got FOO", "foo got FOO", "FOO_EVENT", "got BAR with 1",
                                        "BAR_EVENT", "got BAR with 2", "BAR_EVENT"}));
}

// [check.I119]: dispatch happens when main::signals().step is next emitted, not inside post().
TEST(Event, DispatchWaitsForTheNextStepSignal) {
    int calls = 0;
    kaa::EventHandler h([&calls](const kaa::Event&) { ++calls; });
    h.register_events();
    HandlerGuard guard{h};
    bool dispatched_before_step_signal = true;
    auto conn = kaa::main::signals().step.connect_first_once(
        [&] { dispatched_before_step_signal = calls != 0; });

    kaa::Event("E").post();
    EXPECT_EQ(calls, 0);
    step_once();
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(dispatched_before_step_signal);
}

// [event.post.2]: post() wakes the loop, so an otherwise idle step() returns promptly (kaa slept 30 s).
TEST(Event, PostWakesIdleLoop) {
    int calls = 0;
    kaa::EventHandler h([&calls](const kaa::Event&) { ++calls; });
    h.register_events({"WAKE"});
    HandlerGuard guard{h};
    kaa::Event("WAKE").post();
    const auto start = std::chrono::steady_clock::now();
    kaa::main::step();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    EXPECT_EQ(calls, 1);
}

// [event.post.1]: post() from another thread is marshalled to the loop thread and dispatched there.
TEST(Event, PostFromAnotherThreadIsDispatchedOnLoopThread) {
    ASSERT_TRUE(kaa::main::is_mainthread());  // this thread, not the worker, runs the loop
    std::vector<int> got;
    bool on_main = false;
    kaa::EventHandler h([&](const kaa::Event& e) {
        on_main = kaa::main::is_mainthread();
        got.push_back(e.arg_as<int>());
    });
    h.register_events({"FROM_THREAD"});
    HandlerGuard guard{h};
    std::thread worker([] {
        kaa::Event("FROM_THREAD").post(1);
        kaa::Event("FROM_THREAD", 2).post();
    });
    worker.join();
    kaa::main::loop([&] { return got.size() < 2; }, 5s);
    EXPECT_TRUE(on_main);
    EXPECT_EQ(got, (std::vector<int>{1, 2}));
}

// [event.dispatch.1]: only events matching the registration reach a handler; an empty list matches all.
TEST(Event, HandlerReceivesOnlyMatchingEvents) {
    std::vector<std::string> named;
    std::vector<std::string> everything;
    kaa::EventHandler a([&](const kaa::Event& e) { named.push_back(e.name()); });
    a.register_events({"A", "C"});
    kaa::EventHandler b([&](const kaa::Event& e) { everything.push_back(e.name()); });
    b.register_events();
    HandlerGuard guard{a, b};
    for (const char* n : {"A", "B", "C"}) kaa::Event(n).post();
    step_once();
    EXPECT_EQ(named, (std::vector<std::string>{"A", "C"}));
    EXPECT_EQ(everything, (std::vector<std::string>{"A", "B", "C"}));
    EXPECT_TRUE(a.matches(kaa::Event("C")));
    EXPECT_FALSE(a.matches(kaa::Event("B")));
}

// [event.dispatch.4]: unregister() removes a handler; active() tells; registering again appends it.
TEST(Event, UnregisterStopsDeliveryAndActiveReflectsRegistration) {
    int calls = 0;
    kaa::EventHandler h([&calls](const kaa::Event&) { ++calls; });
    EXPECT_FALSE(h.active());
    h.register_events({"X"});
    HandlerGuard guard{h};
    EXPECT_TRUE(h.active());
    kaa::EventHandler copy = h;  // same registration
    EXPECT_TRUE(copy.active());
    EXPECT_TRUE(copy == h);

    copy.unregister();
    EXPECT_FALSE(h.active());
    kaa::Event("X").post();
    step_once();
    EXPECT_EQ(calls, 0);

    h.register_events({"X"});
    kaa::Event("X").post();
    step_once();
    EXPECT_EQ(calls, 1);
}

// Registering an already registered handler only changes its names; it keeps its place.
TEST(Event, ReRegisteringKeepsRegistrationOrder) {
    std::vector<std::string> order;
    kaa::EventHandler first([&](const kaa::Event&) { order.push_back("first"); });
    kaa::EventHandler second([&](const kaa::Event&) { order.push_back("second"); });
    first.register_events({"Y"});
    second.register_events({"Y"});
    HandlerGuard guard{first, second};
    first.register_events({"Y", "Z"});
    EXPECT_EQ(first.events(), (std::vector<std::string>{"Y", "Z"}));
    kaa::Event("Y").post();
    step_once();
    EXPECT_EQ(order, (std::vector<std::string>{"first", "second"}));
}

// [event.dispatch.1]: a handler unregistered by an earlier handler of the same event is not
// called.
TEST(Event, HandlerUnregisteredDuringDispatchIsSkipped) {
    int second_calls = 0;
    kaa::EventHandler second([&](const kaa::Event&) { ++second_calls; });
    kaa::EventHandler first([&second](const kaa::Event&) { second.unregister(); });
    first.register_events();
    second.register_events();
    HandlerGuard guard{first, second};
    kaa::Event("Q").post();
    step_once();
    EXPECT_EQ(second_calls, 0);
    EXPECT_FALSE(second.active());
}

// An event posted by a handler waits for the following step.
TEST(Event, EventPostedDuringDispatchWaitsForNextStep) {
    std::vector<std::string> seen;
    kaa::EventHandler h([&seen](const kaa::Event& e) {
        seen.push_back(e.name());
        if (e == "PING") kaa::Event("PONG").post();
    });
    h.register_events({"PING", "PONG"});
    HandlerGuard guard{h};
    kaa::Event("PING").post();
    step_once();
    EXPECT_EQ(seen, (std::vector<std::string>{"PING"}));
    step_once();
    EXPECT_EQ(seen, (std::vector<std::string>{"PING", "PONG"}));
}

// kaa's POLICY_SYNCHRONIZED handle(): a handler returning an InProgress is awaited before the
// next handler and before the next event.
TEST(Event, HandlerReturningInProgressIsAwaitedBeforeNextHandlerAndEvent) {
    std::vector<std::string> order;
    kaa::InProgress<> gate;
    kaa::EventHandler slow([&](const kaa::Event& e) -> kaa::InProgress<> {
        order.push_back("slow " + e.name());
        if (e == "ONE") return gate;
        kaa::InProgress<> done;
        done.finish();
        return done;
    });
    kaa::EventHandler after([&](const kaa::Event& e) { order.push_back("after " + e.name()); });
    slow.register_events();
    after.register_events();
    HandlerGuard guard{slow, after};

    kaa::Event("ONE").post();
    kaa::Event("TWO").post();
    step_once();
    EXPECT_EQ(order, (std::vector<std::string>{"slow ONE"}));
    gate.finish();  // the dispatcher resumes inline
    EXPECT_EQ(order, (std::vector<std::string>{"slow ONE", "after ONE", "slow TWO", "after TWO"}));
}

// Loop shutdown unwinds a dispatch that waits on a handler's InProgress; the events after it
// stay queued and are dispatched at the next step.
TEST(Event, LoopShutdownUnwindsWaitingDispatchAndKeepsLaterEventsQueued) {
    std::vector<std::string> seen;
    kaa::InProgress<> never;
    kaa::EventHandler h([&](const kaa::Event& e) -> kaa::InProgress<> {
        seen.push_back(e.name());
        if (e == "HANG") return never;
        kaa::InProgress<> done;
        done.finish();
        return done;
    });
    h.register_events({"HANG", "AFTER"});
    HandlerGuard guard{h};
    kaa::Event("HANG").post();
    kaa::Event("AFTER").post();
    step_once();
    EXPECT_EQ(seen, (std::vector<std::string>{"HANG"}));

    // run() then stop() from inside it: the shutdown sequence unwinds suspended coroutines.
    kaa::main::post([] { kaa::main::stop(); });
    kaa::main::run();
    EXPECT_EQ(seen, (std::vector<std::string>{"HANG"}));
    EXPECT_FALSE(never.finished());  // not abortable: the unwinding did not touch it

    kaa::main::wakeup();  // so that the next step does not sleep
    step_once();
    EXPECT_EQ(seen, (std::vector<std::string>{"HANG", "AFTER"}));
    // Whatever happened above, never leave the process-wide dispatcher waiting on a local.
    if (!never.finished()) never.finish();
}

// A coroutine handler: its Event argument stays valid across its suspensions, because the
// dispatcher keeps the event until the handler's InProgress finished.
TEST(Event, CoroutineHandlerCanUseEventAcrossSuspension) {
    std::vector<std::string> seen;
    kaa::EventHandler h([&seen](const kaa::Event& e) -> kaa::Coroutine<> {
        co_await kaa::NotFinished;
        seen.push_back(e.name() + " " + e.arg_as<std::string>());
    });
    h.register_events({"CO"});
    HandlerGuard guard{h};
    kaa::Event("CO").post("payload");  // a string literal is stored as std::string
    kaa::main::loop([&] { return seen.empty(); }, 5s);
    EXPECT_EQ(seen, (std::vector<std::string>{"CO payload"}));
}

// [event.dispatch.3]: a handler's exception is reported and the next handler still runs; so is
// the failure of an InProgress a handler returned. An aborted InProgress is not reported.
TEST(Event, HandlerExceptionsAreReportedAndNextHandlerRuns) {
    ReportCapture cap;
    int later_calls = 0;
    kaa::EventHandler thrower([](const kaa::Event&) { throw std::runtime_error("handler broke"); });
    kaa::EventHandler failing([](const kaa::Event&) {
        kaa::InProgress<int> ip;
        ip.throw_exception(std::runtime_error("async broke"));
        return ip;
    });
    kaa::EventHandler aborted([](const kaa::Event&) {
        kaa::InProgress<> ip({.abortable = true});
        ip.abort();
        return ip;
    });
    kaa::EventHandler later([&later_calls](const kaa::Event&) { ++later_calls; });
    for (auto* h : {&thrower, &failing, &aborted, &later}) h->register_events({"BOOM"});
    HandlerGuard guard{thrower, failing, aborted, later};
    kaa::Event("BOOM").post();
    step_once();
    EXPECT_EQ(later_calls, 1);
    ASSERT_EQ(cap.count(), 2u);
    EXPECT_EQ(cap.contexts()[0], "Exception in event handler");
    EXPECT_EQ(cap.messages()[0], "std::runtime_error: handler broke");
    EXPECT_EQ(cap.messages()[1], "std::runtime_error: async broke");
}

// A WeakEventHandler calls its owner's member function while the owner lives, and is
// unregistered once it is gone.
TEST(Event, WeakHandlerIsDroppedWhenOwnerDies) {
    struct Listener {
        std::vector<std::string> got;
        void on_event(const kaa::Event& e) { got.push_back(e.name()); }
    };
    auto owner = std::make_shared<Listener>();
    kaa::WeakEventHandler h(owner, &Listener::on_event);
    h.register_events({"W"});
    HandlerGuard guard{h};
    kaa::Event("W").post();
    step_once();
    EXPECT_EQ(owner->got, (std::vector<std::string>{"W"}));

    owner.reset();
    kaa::Event("W").post();
    step_once();
    EXPECT_FALSE(h.active());
}

// [event.value.1]: Event(name, args...) — none: no payload, one: the argument, several: a tuple.
TEST(Event, PayloadIsNothingTheArgumentOrATuple) {
    kaa::Event none("E");
    EXPECT_FALSE(none.has_arg());
    kaa::Event one("E", 5);
    EXPECT_EQ(one.arg_as<int>(), 5);
    kaa::Event several("E", 1, "two", 3.0);
    auto [a, b, c] = several.arg_as<std::tuple<int, std::string, double>>();
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, "two");
    EXPECT_EQ(c, 3.0);
    EXPECT_THROW(one.arg_as<std::string>(), std::bad_any_cast);
    EXPECT_EQ(one.arg_if<std::string>(), nullptr);
    ASSERT_NE(one.arg_if<int>(), nullptr);
    EXPECT_EQ(*one.arg_if<int>(), 5);
}

// [event.value.1]: Event(event) copies name and payload; Event(event, args) and with_args replace it.
TEST(Event, CopiesKeepOrReplaceThePayload) {
    kaa::Event original("E", 1);
    kaa::Event copy(original);
    EXPECT_EQ(copy.name(), "E");
    EXPECT_EQ(copy.arg_as<int>(), 1);
    kaa::Event replaced(original, 2);
    EXPECT_EQ(replaced.arg_as<int>(), 2);
    EXPECT_EQ(original.arg_as<int>(), 1);
    EXPECT_FALSE(original.with_args().has_arg());
}

// [event.value.1]: equal to another Event with the same name, or to a string equal to the name;
// str() is the name.
TEST(Event, EqualityIsByNameAndWithStrings) {
    EXPECT_EQ(kaa::Event("A", 1), kaa::Event("A", 2));
    EXPECT_NE(kaa::Event("A"), kaa::Event("B"));
    EXPECT_TRUE(kaa::Event("A") == "A");
    EXPECT_TRUE("A" == kaa::Event("A"));
    EXPECT_TRUE(kaa::Event("A") != std::string("B"));
    EXPECT_EQ(kaa::Event("A").str(), "A");
}
