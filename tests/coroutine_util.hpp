#pragma once
// Helpers shared by the coroutine tests (test code only).
//
//   kaa::test::Log     — the lines a test records, in order.
//   kaa::test::Boom    — a user exception type (the same type must come back out).
//   kaa::test::Finally — appends a line to a Log when destroyed (C++'s `finally:`).

#include <stdexcept>
#include <string>
#include <vector>

namespace kaa::test {

using Log = std::vector<std::string>;

struct Boom : std::runtime_error {
    Boom() : std::runtime_error("boom") {}
};

struct Finally {
    Log* log;
    std::string text;
    ~Finally() { log->push_back(text); }
};

}  // namespace kaa::test
