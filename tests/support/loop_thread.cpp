// Makes the test process's main thread kaa's loop thread before any test runs.
//
// kaa's loop thread is the thread that first touches the loop, until a loop runs. Tests that
// start a worker first (a pool submitter, a wait() in a worker) would otherwise hand the loop
// to that worker when run alone (ctest runs each test in its own process), and whatever they
// post to the loop would never run.

#include <kaa/main.hpp>

#include <gtest/gtest.h>

namespace {

class LoopThreadEnvironment : public ::testing::Environment {
public:
    void SetUp() override { (void)kaa::main::is_mainthread(); }
};

[[maybe_unused]] ::testing::Environment* const registered =
    ::testing::AddGlobalTestEnvironment(new LoopThreadEnvironment);

}  // namespace
