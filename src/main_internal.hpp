#pragma once
// What the kaa::main facade (src/main.cpp) offers the rest of the library (private to src/):
// the loop every run(), loop() and wait() on the loop thread goes through, and the shutdown
// hooks that layers above the facade (thread pools) register.
//
// Threads: loop-thread only, except add_shutdown_hook() (see there).

#include <kaa/detail/loop.hpp>

#include <functional>
#include <optional>

namespace kaa::detail {

/// Runs loop iterations (each followed by main::signals().step) while cond() is true and the
/// timeout (if any) has not passed; cond() is checked before each iteration. Re-entrant on the
/// loop thread (wait() uses it). An exception from an iteration goes to
/// main::signals().exception: swallowed if a listener returned false, else rethrown (a
/// SystemExit ends run()'s own loop normally instead). Once main::stop() was called, run()'s
/// own loop returns and any other loop throws kaa::SystemExit before its next iteration.
/// Throws std::runtime_error if the loop runs in another thread.
void loop_while(const std::function<bool()>& cond, std::optional<Duration> timeout);

/// Runs `hook` during loop shutdown, after the shutdown signals (thread pools stop here).
/// Loop thread only.
void add_shutdown_hook(std::function<void()> hook);

}  // namespace kaa::detail
