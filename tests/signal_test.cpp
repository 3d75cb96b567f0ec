// Tests for kaa/signal.hpp: Signal and Signals (Callable and WeakCallable: callable_test.cpp;
// inprogress(signal) and Signals::any()/all(): signal_inprogress_test.cpp).
// Named after docs/semantics.md [check.E70]–[check.E82]; no main loop is needed.

#include <kaa/signal.hpp>  // first: the header is self-contained

#include <kaa/errors.hpp>
#include <kaa/main.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "test_util.hpp"

namespace {

using Calls = std::vector<std::string>;

using kaa::test::Counted;
using kaa::test::ReportCapture;

// A plain function (equality-comparable by pointer) that records its arguments.
Calls g_calls;
void record(std::string emitted, std::string bound) { g_calls.push_back(emitted + "," + bound); }
void record_one(std::string emitted) { g_calls.push_back(emitted); }

struct Listener {
    Calls calls;
    void on_value(int v, std::string tag) { calls.push_back(std::to_string(v) + tag); }
};

// ------------------------------------------------------------------ E71 weak connections

// [check.E71]
TEST(Signal, WeakConnectionIsRemovedWhenOwnerDies) {
    std::vector<kaa::SignalAction> actions;
    kaa::Signal<int> sig([&](kaa::Signal<int>&, kaa::SignalAction a) { actions.push_back(a); });
    auto owner = std::make_shared<Listener>();
    Listener* raw = owner.get();
    kaa::Connection c = sig.connect_weak(owner, &Listener::on_value, std::string("a"));
    sig.emit(1);
    EXPECT_EQ(raw->calls, Calls{"1a"});
    EXPECT_EQ(sig.count(), 1u);

    owner.reset();
    EXPECT_EQ(sig.count(), 0u);
    EXPECT_FALSE(c.connected());
    EXPECT_EQ(actions, (std::vector<kaa::SignalAction>{kaa::SignalAction::connected,
                                                       kaa::SignalAction::disconnected}));
    EXPECT_TRUE(sig.emit(2));
}

// [check.E71]: a dead weak connection found by emit() is removed, not called.
TEST(Signal, EmitRemovesWeakConnectionWhoseOwnerDied) {
    int disconnected = 0;
    kaa::Signal<> sig([&](kaa::Signal<>&, kaa::SignalAction a) {
        if (a == kaa::SignalAction::disconnected) ++disconnected;
    });
    auto owner = std::make_shared<int>(0);
    int called = 0;
    sig.connect_weak(owner, [&called] { ++called; });
    owner.reset();
    EXPECT_TRUE(sig.emit());
    EXPECT_EQ(called, 0);
    EXPECT_EQ(disconnected, 1);
    EXPECT_EQ(sig.count(), 0u);
}

// [sig.connect.2]: a weak connection whose owner is already gone connects nothing.
TEST(Signal, WeakConnectionToDeadOwnerConnectsNothing) {
    int changes = 0;
    kaa::Signal<> sig([&](kaa::Signal<>&, kaa::SignalAction) { ++changes; });
    std::weak_ptr<int> dead = std::make_shared<int>(1);
    kaa::Connection c = sig.connect_weak(dead, [] {});
    EXPECT_FALSE(c.connected());
    EXPECT_EQ(sig.count(), 0u);
    EXPECT_EQ(changes, 0);
}

// [sig.weak.1]: a weak connection calls a member function on its owner.
TEST(Signal, WeakConnectionCallsMemberFunctionOnOwner) {
    auto owner = std::make_shared<Listener>();
    kaa::Signal<int> sig;
    sig.connect_weak(std::weak_ptr<Listener>(owner), &Listener::on_value, std::string("m"));
    sig.emit(3);
    EXPECT_EQ(owner->calls, Calls{"3m"});
}

// [sig.weak.1]: the owner is held strongly during the call, even if the call drops the last other ref.
TEST(Signal, WeakConnectionKeepsOwnerAliveDuringItsCall) {
    auto owner = std::make_shared<Listener>();
    std::weak_ptr<Listener> watch = owner;
    kaa::Signal<int> sig;
    bool alive_after_reset = false;
    sig.connect_weak(owner, [&](int) {
        owner.reset();
        alive_after_reset = !watch.expired();
    });
    sig.emit(1);
    EXPECT_TRUE(alive_after_reset);
    EXPECT_TRUE(watch.expired());
    EXPECT_EQ(sig.count(), 0u);
}

// [sig.weak.1]: a std::weak_ptr bound argument is weak too: locked for the call, its death removes
// the connection.
TEST(Signal, WeakBoundArgumentIsLockedAndItsDeathDisconnects) {
    auto owner = std::make_shared<int>(0);
    auto arg = std::make_shared<int>(5);
    kaa::Signal<int> sig;
    std::vector<int> got;
    sig.connect_weak(
        owner, [&got](int v, const std::shared_ptr<int>& a) { got.push_back(v + *a); },
        std::weak_ptr<int>(arg));
    sig.emit(1);
    arg.reset();
    sig.emit(2);
    EXPECT_EQ(got, std::vector<int>{6});
    EXPECT_EQ(sig.count(), 0u);
}

// ------------------------------------------------------------------ E72–E75 emit

// [check.E72]
TEST(Signal, EmitReturnsFalseIffSomeCallbackReturnedFalse) {
    kaa::Signal<int> sig;
    Calls calls;
    sig.connect([&](int) { calls.push_back("void"); });
    sig.connect([&](int) {
        calls.push_back("true");
        return true;
    });
    sig.connect([&](int) {
        calls.push_back("zero");
        return 0;  // not a bool: does not count as false
    });
    EXPECT_TRUE(sig.emit(1));
    kaa::Connection f = sig.connect([&](int) {
        calls.push_back("false");
        return false;
    });
    sig.connect([&](int) { calls.push_back("after"); });
    calls.clear();
    EXPECT_FALSE(sig.emit(1));
    EXPECT_EQ(calls, (Calls{"void", "true", "zero", "false", "after"}));
    sig.disconnect(f);
    EXPECT_TRUE(sig.emit(1));
}

// [check.E72]
TEST(Signal, EmitWithNoCallbacksReturnsTrue) {
    kaa::Signal<int> sig;
    EXPECT_TRUE(sig.emit(1));
    EXPECT_TRUE(sig.empty());
}

// [check.E73]
TEST(Signal, OrdinaryExceptionIsReportedAndLaterCallbacksRun) {
    ReportCapture reports;
    kaa::Signal<> sig;
    int after = 0;
    sig.connect([] { throw std::runtime_error("boom"); });
    sig.connect([] { throw 42; });  // not even a std::exception
    sig.connect([&after] { ++after; });
    EXPECT_TRUE(sig.emit());
    EXPECT_EQ(after, 1);
    ASSERT_EQ(reports.count(), 2u);
    EXPECT_EQ(reports.contexts()[0], "Exception while emitting signal");
    EXPECT_EQ(reports.contexts()[1], "Exception while emitting signal");
    EXPECT_NE(reports.messages()[0].find("boom"), std::string::npos);
    EXPECT_EQ(sig.count(), 3u);
}

// [check.E74]
TEST(Signal, InProgressAbortedPropagatesOutOfEmit) {
    ReportCapture reports;
    kaa::Signal<> sig;
    int after = 0;
    sig.connect([] { throw kaa::InProgressAborted("stop"); });
    sig.connect([&after] { ++after; });
    EXPECT_THROW(sig.emit(), kaa::InProgressAborted);
    EXPECT_THROW(sig.emit(), kaa::BaseException);
    EXPECT_EQ(after, 0);
    EXPECT_EQ(reports.count(), 0u);
}

// [check.E74]: SystemExit is a BaseException too.
TEST(Signal, SystemExitPropagatesOutOfEmit) {
    kaa::Signal<> sig;
    sig.connect([] { throw kaa::SystemExit("bye"); });
    EXPECT_THROW(sig.emit(), kaa::SystemExit);
}

// [check.E75]
TEST(Signal, OnceCallbackIsDisconnectedBeforeItRuns) {
    kaa::Signal<int> sig;
    Calls calls;
    sig.connect_once([&](int depth) {
        calls.push_back("once" + std::to_string(depth));
        EXPECT_EQ(sig.count(), 1u);  // already gone; only the plain one is left
        if (depth < 3) sig.emit(depth + 1);
    });
    sig.connect([&](int depth) { calls.push_back("plain" + std::to_string(depth)); });
    sig.emit(1);
    EXPECT_EQ(calls, (Calls{"once1", "plain2", "plain1"}));
    sig.emit(9);
    EXPECT_EQ(calls.back(), "plain9");
    EXPECT_EQ(calls.size(), 4u);
}

// [sig.emit.1]: the emission iterates over a snapshot.
TEST(Signal, CallbackConnectedDuringEmitIsNotCalledInIt) {
    kaa::Signal<> sig;
    int late = 0;
    sig.connect_once([&] { sig.connect([&late] { ++late; }); });
    sig.emit();
    EXPECT_EQ(late, 0);
    sig.emit();
    EXPECT_EQ(late, 1);
}

// [sig.emit.2]: collect, dispatch, re-check: a callback disconnected by an earlier one in the
// same emission is not called.
TEST(Signal, CallbackDisconnectedDuringEmitIsSkipped) {
    kaa::Signal<> sig;
    int second = 0;
    kaa::Connection c2;
    sig.connect([&] { sig.disconnect(c2); });
    c2 = sig.connect([&second] { ++second; });
    sig.emit();
    EXPECT_EQ(second, 0);
    EXPECT_EQ(sig.count(), 1u);
}

// The file comment: a callback may destroy the signal; the emission stops after it.
TEST(Signal, DestroyingSignalInsideCallbackStopsEmission) {
    auto sig = std::make_unique<kaa::Signal<>>();
    int later = 0;
    kaa::Connection c = sig->connect([&sig] { sig.reset(); });
    sig->connect([&later] { ++later; });
    EXPECT_TRUE(sig->emit());
    EXPECT_EQ(sig, nullptr);
    EXPECT_EQ(later, 0);
    EXPECT_FALSE(c.connected());
}

// ------------------------------------------------------------------ E76 order and arguments

// [check.E76]
TEST(Signal, ConnectFirstRunsBeforeEarlierCallbacks) {
    kaa::Signal<> sig;
    Calls calls;
    sig.connect([&] { calls.push_back("a"); });
    sig.connect_first([&] { calls.push_back("b"); });
    sig.connect_first_once([&] { calls.push_back("c"); });
    sig.emit();
    EXPECT_EQ(calls, (Calls{"c", "b", "a"}));
}

// [check.E76]
TEST(Signal, BoundArgumentsFollowEmittedArguments) {
    g_calls.clear();
    kaa::Signal<std::string> sig;
    sig.connect(&record, std::string("first"));
    sig.emit("e");
    EXPECT_EQ(g_calls, Calls{"e,first"});
}

// [sig.connect.1]: a signal without arguments passes only the bound ones.
TEST(Signal, NoEmittedArgumentsPassesOnlyBoundOnes) {
    kaa::Signal<> sig;
    std::vector<int> got;
    sig.connect([&got](int v) { got.push_back(v); }, 42);
    sig.emit();
    EXPECT_EQ(got, std::vector<int>{42});
}

// ------------------------------------------------------------------ E77–E78 disconnect

// [check.E77]
TEST(Signal, DisconnectByFunctionRemovesAllItsConnections) {
    kaa::Signal<std::string> sig;
    sig.connect(&record, std::string("a"));
    sig.connect(&record, std::string("b"));
    sig.connect(&record_one);
    EXPECT_TRUE(sig.disconnect(&record));
    EXPECT_EQ(sig.count(), 1u);
    EXPECT_FALSE(sig.disconnect(&record));
    EXPECT_TRUE(sig.disconnect(record_one));  // a function name works too
    EXPECT_EQ(sig.count(), 0u);
}

// [check.E77]
TEST(Signal, DisconnectByFunctionAndArgumentsRemovesOnlyExactMatches) {
    g_calls.clear();
    kaa::Signal<std::string> sig;
    sig.connect(&record, std::string("a"));
    sig.connect(&record, std::string("b"));
    EXPECT_FALSE(sig.disconnect(&record, std::string("c")));
    EXPECT_FALSE(sig.disconnect(&record, 1));  // other types never match
    EXPECT_TRUE(sig.disconnect(&record, std::string("a")));
    EXPECT_EQ(sig.count(), 1u);
    sig.emit("e");
    EXPECT_EQ(g_calls, Calls{"e,b"});
}

// [check.E77]: member pointers of weak connections compare too.
TEST(Signal, DisconnectByMemberPointerRemovesWeakConnections) {
    auto a = std::make_shared<Listener>();
    kaa::Signal<int> sig;
    sig.connect_weak(a, &Listener::on_value, std::string("x"));
    sig.connect_weak(a, &Listener::on_value, std::string("y"));
    EXPECT_TRUE(sig.disconnect(&Listener::on_value, std::string("x")));
    EXPECT_EQ(sig.count(), 1u);
    EXPECT_TRUE(sig.disconnect(&Listener::on_value));
    EXPECT_EQ(sig.count(), 0u);
}

// [check.E78] ([sig.disconnect.1])
TEST(Signal, DisconnectingOneHandleLeavesOtherConnectionsOfSameFunction) {
    g_calls.clear();
    kaa::Signal<std::string> sig;
    kaa::Connection a = sig.connect(&record, std::string("a"));
    kaa::Connection b = sig.connect(&record, std::string("b"));
    EXPECT_FALSE(a == b);
    EXPECT_TRUE(sig.disconnect(a));
    EXPECT_FALSE(sig.disconnect(a));
    EXPECT_FALSE(a.connected());
    EXPECT_TRUE(b.connected());
    sig.emit("e");
    EXPECT_EQ(g_calls, Calls{"e,b"});
}

// [check.E78] ([sig.disconnect.1])
TEST(Signal, FiringOnceConnectionLeavesOtherConnectionsOfSameFunction) {
    g_calls.clear();
    kaa::Signal<std::string> sig;
    sig.connect_once(&record, std::string("a"));
    sig.connect(&record, std::string("b"));
    sig.emit("1");
    sig.emit("2");
    EXPECT_EQ(g_calls, (Calls{"1,a", "1,b", "2,b"}));
}

// A Connection belongs to one signal only.
TEST(Signal, DisconnectIgnoresConnectionOfAnotherSignal) {
    kaa::Signal<> one;
    kaa::Signal<> two;
    kaa::Connection c = one.connect([] {});
    EXPECT_FALSE(two.disconnect(c));
    EXPECT_TRUE(c.connected());
    EXPECT_TRUE(c.disconnect());
    EXPECT_EQ(one.count(), 0u);
}

// A disconnected callback and its bound arguments are destroyed.
TEST(Signal, DisconnectDestroysCallbackAndBoundArguments) {
    Counted::reset();
    {
        kaa::Signal<> sig;
        kaa::Connection c = sig.connect([](const Counted&) {}, Counted());
        EXPECT_EQ(Counted::alive(), 1);
        sig.disconnect(c);
        EXPECT_EQ(Counted::alive(), 0);
        sig.connect([](const Counted&) {}, Counted());
        EXPECT_EQ(Counted::alive(), 1);
    }
    EXPECT_EQ(Counted::alive(), 0);
}

// RAII: ScopedConnection disconnects when it goes out of scope.
TEST(Signal, ScopedConnectionDisconnectsOnDestruction) {
    kaa::Signal<> sig;
    {
        kaa::ScopedConnection scoped(sig.connect([] {}));
        EXPECT_TRUE(scoped.connected());
        EXPECT_EQ(sig.count(), 1u);
    }
    EXPECT_EQ(sig.count(), 0u);
    kaa::ScopedConnection kept(sig.connect([] {}));
    kaa::Connection c = kept.release();
    EXPECT_EQ(sig.count(), 1u);
    EXPECT_TRUE(c.connected());
}

// [sig.connect.3]: connecting something that cannot be called is a TypeError.
TEST(Signal, NullCallbackThrowsTypeError) {
    kaa::Signal<> sig;
    EXPECT_THROW(sig.connect(static_cast<void (*)()>(nullptr)), kaa::TypeError);
    EXPECT_THROW(sig.connect(std::function<void()>()), kaa::TypeError);
    EXPECT_EQ(sig.count(), 0u);
}

// ------------------------------------------------------------------ E79 changed callback

// [check.E79]
TEST(Signal, ChangedCallbackReportsEachConnectAndSuccessfulDisconnect) {
    using A = kaa::SignalAction;
    std::vector<A> actions;
    kaa::Signal<> sig;
    sig.set_changed_callback([&](kaa::Signal<>& s, A a) {
        EXPECT_EQ(&s, &sig);
        actions.push_back(a);
    });
    kaa::Connection c = sig.connect([] {});
    sig.connect_once(&record_one, std::string("x"));
    sig.disconnect(c);
    sig.disconnect(c);        // nothing removed: no call
    sig.disconnect(&record);  // nothing removed: no call
    sig.emit();               // fires and removes the once connection
    EXPECT_EQ(actions,
              (std::vector<A>{A::connected, A::connected, A::disconnected, A::disconnected}));
}

// [check.E79]
TEST(Signal, DisconnectAllCallsChangedCallbackOnceOnlyIfNonEmpty) {
    int calls = 0;
    kaa::Signal<> sig([&](kaa::Signal<>&, kaa::SignalAction a) {
        if (a == kaa::SignalAction::disconnected) ++calls;
    });
    sig.disconnect_all();
    EXPECT_EQ(calls, 0);
    kaa::Connection a = sig.connect([] {});
    sig.connect([] {});
    sig.connect([] {});
    sig.disconnect_all();
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(sig.count(), 0u);
    EXPECT_FALSE(a.connected());
}

// The changed callback may destroy the signal, even from Connection::disconnect().
TEST(Signal, ChangedCallbackMayDestroyTheSignal) {
    auto sig = std::make_unique<kaa::Signal<>>();
    kaa::Connection c = sig->connect([] {});
    kaa::Connection other = sig->connect([] {});
    sig->set_changed_callback([&sig](kaa::Signal<>&, kaa::SignalAction) { sig.reset(); });
    EXPECT_TRUE(c.disconnect());
    EXPECT_EQ(sig, nullptr);
    EXPECT_FALSE(c.connected());
    EXPECT_FALSE(other.connected());
}

// [sig.changed.1]: a changed callback throwing CallableError is dropped.
TEST(Signal, ChangedCallbackThrowingCallableErrorIsDropped) {
    int calls = 0;
    kaa::Signal<> sig([&](kaa::Signal<>&, kaa::SignalAction) {
        ++calls;
        throw kaa::CallableError("gone");
    });
    sig.connect([] {});
    sig.connect([] {});
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(sig.count(), 2u);
}

// ------------------------------------------------------------------ E80 limit

// [check.E80]
TEST(Signal, ConnectionNumber1001ThrowsInvalidArgument) {
    kaa::Signal<> sig;
    for (std::size_t i = 0; i < kaa::Signal<>::max_connections; ++i) sig.connect([] {});
    EXPECT_EQ(sig.count(), 1000u);
    try {
        sig.connect([] {});
        FAIL() << "connection 1001 was accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "Number of callbacks exceeds Signal::max_connections limit (1000)");
    }
    EXPECT_EQ(sig.count(), 1000u);
}

// ------------------------------------------------------------------ E81 deferred

// [check.E81] ([sig.defer.1]): replayed to the newly connected callback alone.
TEST(Signal, DeferredEmissionsReplayInOrderToNextConnectionOnly) {
    Calls order;
    kaa::Signal<int> sig([&](kaa::Signal<int>&, kaa::SignalAction a) {
        if (a == kaa::SignalAction::connected) order.push_back("changed");
    });
    sig.emit_deferred(1);
    sig.emit_deferred(2);
    sig.connect([&](int v) { order.push_back("f" + std::to_string(v)); });
    sig.connect([&](int v) { order.push_back("g" + std::to_string(v)); });
    EXPECT_EQ(order, (Calls{"changed", "f1", "f2", "changed"}));
    order.clear();
    sig.emit(3);
    EXPECT_EQ(order, (Calls{"f3", "g3"}));
}

// [sig.defer.2]: emit_when_handled emits when something is connected, else defers.
TEST(Signal, EmitWhenHandledDefersWithoutCallbacks) {
    kaa::Signal<int> sig;
    std::vector<int> got;
    EXPECT_EQ(sig.emit_when_handled(1), std::nullopt);
    sig.connect([&got](int v) { got.push_back(v); });
    EXPECT_EQ(sig.emit_when_handled(2), std::optional<bool>(true));
    EXPECT_EQ(got, (std::vector<int>{1, 2}));
}

// ------------------------------------------------------------------ E82 Signals

// [check.E82], [sig.signals.1]
TEST(Signals, KeepsKeyOrder) {
    kaa::Signals<int> s{"foo", "bar", "baz"};
    EXPECT_EQ(s.keys(), (std::vector<std::string>{"foo", "bar", "baz"}));
    EXPECT_TRUE(s.contains("bar"));
    EXPECT_FALSE(s.contains("qux"));
    EXPECT_TRUE(s.erase("bar"));
    EXPECT_FALSE(s.erase("bar"));
    EXPECT_EQ(s.keys(), (std::vector<std::string>{"foo", "baz"}));
    EXPECT_EQ(s.values().size(), 2u);
    EXPECT_EQ(s.values()[1].get(), &s["baz"]);
}

// [check.E82]
TEST(Signals, SubsetKeepsGivenOrderAndSharesSignals) {
    kaa::Signals<int> s{"a", "b", "c"};
    kaa::Signals<int> sub = s.subset("c", std::string("a"));
    EXPECT_EQ(sub.keys(), (std::vector<std::string>{"c", "a"}));
    EXPECT_EQ(&sub["a"], &s["a"]);
    int got = 0;
    sub.connect("a", [&got](int v) { got = v; });
    s.emit("a", 5);
    EXPECT_EQ(got, 5);
    EXPECT_THROW(s.subset("nope"), std::out_of_range);
}

// [check.E82], [sig.signals.1]
TEST(Signals, AddReturnsNewCollectionAndLeavesOriginalUnchanged) {
    kaa::Signals<int> s{"foo", "bar"};
    kaa::Signals<int> more = s.add("new");
    EXPECT_EQ(more.keys(), (std::vector<std::string>{"foo", "bar", "new"}));
    EXPECT_EQ(s.keys(), (std::vector<std::string>{"foo", "bar"}));
    EXPECT_EQ(&more["foo"], &s["foo"]);
    kaa::Signals<int> merged = s.add(kaa::Signals<int>{"x"});
    EXPECT_EQ(merged.keys(), (std::vector<std::string>{"foo", "bar", "x"}));
    EXPECT_THROW(s.add("foo"), std::invalid_argument);
}

// [sig.signals.2]: the forwarding helpers call the named signal.
TEST(Signals, ForwardingHelpersUseTheNamedSignal) {
    kaa::Signals<int> s{"foo", "bar"};
    std::vector<int> got;
    s.connect("foo", [&got](int v) { got.push_back(v); });
    s["foo"].emit(1);
    EXPECT_TRUE(s.emit("foo", 2));
    EXPECT_TRUE(s.emit("bar", 3));
    EXPECT_EQ(got, (std::vector<int>{1, 2}));
    EXPECT_EQ(s.count("foo"), 1u);
    EXPECT_EQ(s.count("bar"), 0u);
}

// [sig.signals.1]: an unknown name throws std::out_of_range naming it.
TEST(Signals, UnknownNameThrowsOutOfRangeNamingIt) {
    kaa::Signals<> s{"a"};
    try {
        s["missing"];
        FAIL() << "no exception";
    } catch (const std::out_of_range& e) {
        EXPECT_NE(std::string(e.what()).find("'missing'"), std::string::npos);
    }
}
// ------------------------------------------------------------------ connect() signatures

// What connect() and connect_weak() accept (their static_asserts check the same traits, so a
// wrong callback gives one readable error instead of pages of std::invoke errors): the
// signal's arguments, then the bound ones; a weak connection may name a member of the owner
// and passes weak_ptr bound arguments locked.
TEST(Signal, ConnectAcceptsTheSignalsArgumentsThenTheBoundOnes) {
    using Sig = kaa::Signal<int, const std::string&>;
    auto takes_both = [](int, const std::string&) {};
    auto takes_both_then_bound = [](int, const std::string&, double) {};
    auto takes_copies = [](long, std::string) { return false; };
    auto takes_nothing = [] {};
    auto takes_one = [](int) {};
    auto takes_bound_first = [](double, int, const std::string&) {};
    static_assert(kaa::detail::connectable_v<Sig, decltype(takes_both)>);
    static_assert(kaa::detail::connectable_v<Sig, decltype(takes_both_then_bound), double>);
    static_assert(kaa::detail::connectable_v<Sig, decltype(takes_copies)>);
    static_assert(kaa::detail::connectable_v<Sig, void (*)(int, std::string)>);
    static_assert(!kaa::detail::connectable_v<Sig, decltype(takes_nothing)>);
    static_assert(!kaa::detail::connectable_v<Sig, decltype(takes_one)>);
    static_assert(!kaa::detail::connectable_v<Sig, decltype(takes_both), double>);  // one too many
    static_assert(!kaa::detail::connectable_v<Sig, decltype(takes_bound_first), double>);

    struct Owner {
        void on(int, const std::string&, const std::shared_ptr<int>&) {}
    };
    static_assert(
        kaa::detail::weak_connectable_v<Sig, Owner, decltype(&Owner::on), std::weak_ptr<int>>);
    static_assert(!kaa::detail::weak_connectable_v<Sig, Owner, decltype(&Owner::on)>);
    static_assert(kaa::detail::weak_connectable_v<Sig, Owner, decltype(takes_both)>);
    static_assert(!kaa::detail::weak_connectable_v<Sig, Owner, decltype(takes_one)>);

    Sig sig;
    int calls = 0;
    sig.connect([&](int, const std::string&, int bound) { calls += bound; }, 2);
    sig.emit(1, "x");
    EXPECT_EQ(calls, 2);
}

#ifndef NDEBUG
// [core.thread.4]: in a debug build, emitting a Signal (loop thread only) on another thread ends
// the process with a message naming the call.
TEST(SignalDeathTest, EmitFromAWorkerFailsTheLoopThreadAssertion) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    ASSERT_TRUE(kaa::main::is_mainthread());  // the test thread is the loop thread
    kaa::Signal<int> sig;
    EXPECT_DEATH(
        {
            std::thread worker([&sig] { sig.emit(1); });
            worker.join();
        },
        "kaa: Signal::emit\\(\\) called off the loop thread");
}
#endif

}  // namespace
