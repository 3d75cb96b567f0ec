// The seed's examples (seed/coroutines.rst) run as the programs in examples/seed/ run them,
// with their output captured: each must end by itself and print what the seed says.

#include "../examples/fetch_page.hpp"
#include "../examples/seed/coroutines_seed.hpp"

#include "test_util.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <sstream>

using namespace std::chrono_literals;

TEST(SeedExamples, DoSomethingFinishesWith42) {
    std::ostringstream out;
    seed::run_do_something(out);
    EXPECT_EQ(out.str(), "do_something() finished with result: 42\n");
}

TEST(SeedExamples, DoSomethingElseAwaitsDoSomething) {
    std::ostringstream out;
    seed::run_do_something_else(out);
    EXPECT_EQ(out.str(), "do_something_else() finished with result: true\n");
}

TEST(SeedExamples, DoSomethingElseReportsFailure) {
    // The seed's `except:` branch: a failing do_something() makes it print and yield None.
    std::ostringstream out;
    kaa::InProgress<int> failing;
    failing.throw_exception(std::runtime_error("broken"));
    auto c = [](std::ostream& out, kaa::InProgress<int> ip) -> kaa::Coroutine<std::optional<bool>> {
        int result = 0;
        try {
            result = co_await ip;
        } catch (...) {
            out << "do_something failed\n";
            co_return std::nullopt;
        }
        co_return result ? true : false;
    }(out, failing);
    ASSERT_TRUE(c.finished());
    EXPECT_FALSE(c.result().has_value());
    EXPECT_EQ(out.str(), "do_something failed\n");
}

TEST(SeedExamples, DelayPrintAbortedRaisesFromAbort) {
    std::ostringstream out;
    seed::run_delay_print_aborted(out);
    EXPECT_EQ(out.str(), "abort() raised InProgressAborted: Coroutine aborted\n");
}

TEST(SeedExamples, DelayPrintCatchingAbortReturnsNormally) {
    std::ostringstream out;
    seed::run_delay_print_catching(out);
    EXPECT_EQ(out.str(),
              "abort() returned normally; delay_print() is finished: true, failed: true\n");
}

TEST(SeedExamples, DelayPrintNotAbortedPrints) {
    std::ostringstream out;
    auto c = seed::delay_print_catching(out, "Hello Kaa", 1ms);
    c.wait(5s);
    EXPECT_EQ(out.str(), "Hello Kaa\n");
}

TEST(SeedExamples, DelayPrintNoabortSeesUnfinishedInprogress) {
    std::ostringstream out;
    seed::run_delay_print_noabort(out);
    EXPECT_EQ(out.str(), "false will be false\n");
}

TEST(SeedExamples, SingletonAbortReachesMasterWithOrigin) {
    std::ostringstream out;
    seed::run_singleton_master(out, 10ms, 5s);
    EXPECT_EQ(out.str(), "singleton() aborted\nmaster() aborted because singleton() aborted\n");
}

// The seed's fetch_page, both forms, against the example's local HTTP server.
TEST(SeedExamples, FetchPagePrintsThePageTwice) {
    std::ostringstream out;
    example::run_fetch_page(out);
    const std::string reply = "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: " +
                              std::to_string(example::page_body().size()) + "\r\n\r\n" +
                              example::page_body() + "\n";
    EXPECT_EQ(out.str(), "coroutine:\n" + reply + "callbacks:\n" + reply);
}
