#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// kaa::delay(duration): an InProgress<void> that finishes after the duration.
//
// It is abortable: aborting it disarms its timer and fails it with InProgressAborted. It costs
// one allocation (the InProgress state embeds its timer entry) and keeps itself alive while its
// timer is armed, so a delay nobody holds still finishes (and then frees itself).
//
// Threads: main-loop thread only (it arms a timer; debug builds assert it, [core.thread.4]).

#include <kaa/inprogress.hpp>

#include <chrono>

namespace kaa {

/// An InProgress that finishes (with no value) `duration` from now.
InProgress<void> delay(std::chrono::nanoseconds duration);

}  // namespace kaa

#pragma GCC visibility pop
