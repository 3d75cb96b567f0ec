// Tests for kaa/callable.hpp: Callable and WeakCallable (split from signal_test.cpp).
// Named after docs/semantics.md [check.E70]–[check.E71]; no main loop is needed.

#include <kaa/callable.hpp>  // first: the header is self-contained

#include <kaa/errors.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

using Calls = std::vector<std::string>;

// A plain function (equality-comparable by pointer) that records its arguments.
Calls g_calls;
void record_one(std::string emitted) { g_calls.push_back(emitted); }

struct Listener {
    Calls calls;
    void on_value(int v, std::string tag) { calls.push_back(std::to_string(v) + tag); }
};

// ------------------------------------------------------------------ E70 Callable

// [check.E70]
TEST(Callable, BoundArgumentsFollowCallArguments) {
    auto c = kaa::callable([](std::string a, int b, int c2) { return a + std::to_string(b + c2); },
                           1, 2);
    EXPECT_EQ(c("x"), "x3");
    auto join = kaa::callable([](const std::string& a, const std::string& b,
                                 const std::string& c2) { return a + b + c2; },
                              std::string("1"), std::string("2"));
    EXPECT_EQ(join(std::string("x")), "x12");
}

// [check.E70]
TEST(Callable, InitArgsFirstPutsBoundArgumentsFirst) {
    auto join = kaa::callable_init_args_first([](const std::string& a, const std::string& b,
                                                 const std::string& c) { return a + b + c; },
                                              std::string("1"), std::string("2"));
    EXPECT_EQ(join(std::string("x")), "12x");
    const auto& const_join = join;
    EXPECT_EQ(const_join(std::string("y")), "12y");
}

// [sig.callable]: a Callable compares equal to its own function.
TEST(Callable, EqualsItsFunction) {
    auto c = kaa::callable(&record_one);
    EXPECT_TRUE(c == &record_one);
    EXPECT_FALSE(c == static_cast<void (*)(std::string)>(nullptr));
}

// ------------------------------------------------------------------ E71 weak callables

// [check.E71]
TEST(WeakCallable, ThrowsCallableErrorOnceOwnerIsGone) {
    auto owner = std::make_shared<Listener>();
    kaa::WeakCallable wc(owner, &Listener::on_value, std::string("!"));
    EXPECT_TRUE(wc.valid());
    wc(1);
    EXPECT_EQ(owner->calls, Calls{"1!"});
    owner.reset();
    EXPECT_FALSE(wc.valid());
    EXPECT_THROW(wc(2), kaa::CallableError);
    EXPECT_EQ(wc.call_if_alive(3), std::nullopt);
}

// [check.E71]
TEST(WeakCallable, ThrowsCallableErrorOnceWeakBoundArgumentIsGone) {
    auto owner = std::make_shared<int>(0);
    auto arg = std::make_shared<int>(7);
    int seen = 0;
    kaa::WeakCallable wc(
        owner, [&seen](int x, const std::shared_ptr<int>& a) { seen = x + *a; },
        std::weak_ptr<int>(arg));
    wc(1);
    EXPECT_EQ(seen, 8);
    arg.reset();
    EXPECT_FALSE(wc.valid());
    EXPECT_THROW(wc(1), kaa::CallableError);
}

}  // namespace
