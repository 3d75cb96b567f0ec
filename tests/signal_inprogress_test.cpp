// Tests for kaa/signal_inprogress.hpp: inprogress(signal) and Signals::any()/all() (split from
// signal_test.cpp). Named after [check.D58] and [check.E83]; no main loop is needed.

#include <kaa/signal_inprogress.hpp>  // first: the header is self-contained

#include <kaa/inprogress.hpp>
#include <kaa/inprogress_any.hpp>
#include <kaa/signal.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace {

// ------------------------------------------------------------------ D58 inprogress(signal)

// docs/semantics.md [check.D58]
TEST(SignalInProgress, FinishesAtNextEmissionAndLeavesNoConnection) {
    kaa::Signal<int> sig;
    kaa::InProgress<int> ip = kaa::inprogress(sig);
    EXPECT_EQ(sig.count(), 1u);
    EXPECT_FALSE(ip.finished());
    sig.emit(7);
    ASSERT_TRUE(ip.finished());
    EXPECT_EQ(ip.result(), 7);
    EXPECT_EQ(sig.count(), 0u);
    sig.emit(8);
    EXPECT_EQ(ip.result(), 7);
}

// [check.D58]
TEST(SignalInProgress, DroppedInProgressLeavesNoConnection) {
    int disconnected = 0;
    kaa::Signal<int> sig([&](kaa::Signal<int>&, kaa::SignalAction a) {
        if (a == kaa::SignalAction::disconnected) ++disconnected;
    });
    {
        kaa::InProgress<int> ip = kaa::inprogress(sig);
        EXPECT_EQ(sig.count(), 1u);
    }
    EXPECT_EQ(sig.count(), 0u);
    EXPECT_EQ(disconnected, 1);
    EXPECT_TRUE(sig.emit(1));
}

// [ip.protocol.2]: the result is void, the argument, or a tuple of the arguments.
TEST(SignalInProgress, ResultTypeFollowsTheArguments) {
    kaa::Signal<> none;
    kaa::Signal<const std::string&> one;
    kaa::Signal<int, std::string> two;
    kaa::InProgress<void> a = kaa::inprogress(none);
    kaa::InProgress<std::string> b = kaa::inprogress(one);
    kaa::InProgress<std::tuple<int, std::string>> c = kaa::inprogress(two);
    none.emit();
    one.emit("x");
    two.emit(1, "y");
    EXPECT_TRUE(a.finished());
    EXPECT_EQ(b.result(), "x");
    EXPECT_EQ(c.result(), std::make_tuple(1, std::string("y")));
}

// [sig.defer.1] + [ip.protocol.2]: a deferred emission finishes it at once.
TEST(SignalInProgress, DeferredEmissionFinishesItAtOnce) {
    kaa::Signal<int> sig;
    sig.emit_deferred(4);
    kaa::InProgress<int> ip = kaa::inprogress(sig);
    ASSERT_TRUE(ip.finished());
    EXPECT_EQ(ip.result(), 4);
    EXPECT_EQ(sig.count(), 0u);
}

}  // namespace

// [check.E83] — Signals::any() finishes with (index, value) of the first signal emitted, and all()
// once every signal has been emitted.
TEST(Signals, AnyFinishesWithFirstEmittedAndAllWhenEveryOneEmitted) {
    kaa::Signals<std::string> sig{"one", "two", "three"};
    auto any = sig.subset("one", "three").any();
    std::optional<std::pair<std::size_t, std::string>> got;
    any.connect([&](const kaa::SubResult& r) { got.emplace(r.index(), r.result<std::string>()); });
    sig["three"].emit("worked");
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->first, 1u);
    EXPECT_EQ(got->second, "worked");
    EXPECT_EQ(sig["one"].count(), 0u);  // the Any let go of the other signal

    auto all = sig.subset("one", "two").all();
    bool finished = false;
    all.connect([&](const kaa::AllResult& r) {
        finished = true;
        EXPECT_EQ(r[0].result<std::string>(), "result for sig one");
        EXPECT_EQ(r[1].result<std::string>(), "result for sig two");
    });
    sig["two"].emit("result for sig two");
    EXPECT_FALSE(finished);
    sig["one"].emit("result for sig one");
    EXPECT_TRUE(finished);
}

// Signals::any()/all() are member templates declared in kaa/signal.hpp and defined in
// kaa/signal_inprogress.hpp: their types and defaults are unchanged, and a mode may be given.
TEST(Signals, AnyAndAllKeepTheirTypesAndTakeAFinishMode) {
    kaa::Signals<int> sig{"a", "b"};
    static_assert(std::is_same_v<decltype(sig.any()), kaa::InProgressAny>);
    static_assert(std::is_same_v<decltype(sig.all()), kaa::InProgressAll>);

    kaa::InProgressAny by_default = sig.any();
    kaa::InProgressAny idx = sig.any(kaa::FINISH_IDX);
    kaa::InProgressAny filtered =
        sig.any(kaa::FINISH_RESULT, [](const kaa::SubResult& r) { return r.result<int>() < 0; });
    kaa::InProgressAll all = sig.all();
    kaa::InProgressAll all_idx = sig.all(kaa::FINISH_IDX_RESULT);
    EXPECT_EQ(sig["a"].count(), 5u);
    EXPECT_EQ(sig["b"].count(), 5u);
    // They subscribe to the next emissions only while something listens to them.
    for (auto* ip : {&by_default, &idx, &filtered}) ip->connect([](const kaa::SubResult&) {});
    for (auto* ip : {&all, &all_idx}) ip->connect([](const kaa::AllResult&) {});

    sig["b"].emit(-1);
    sig["a"].emit(2);
    ASSERT_TRUE(by_default.finished());
    EXPECT_EQ(by_default.result().mode(), kaa::FINISH_IDX_RESULT);
    EXPECT_EQ(by_default.result().index(), 1u);
    EXPECT_EQ(idx.result().index(), 1u);
    ASSERT_TRUE(filtered.finished());
    EXPECT_EQ(filtered.result().result<int>(), 2);  // -1 was filtered out
    ASSERT_TRUE(all.finished());
    EXPECT_EQ(all.result().mode(), kaa::FINISH_SELF);
    EXPECT_EQ(all_idx.result().mode(), kaa::FINISH_IDX_RESULT);
    EXPECT_EQ(all_idx.result()[0].result<int>(), 2);
    EXPECT_EQ(all_idx.result()[1].result<int>(), -1);
}
