#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// kaa::debug — what the loop is doing: the suspended coroutines as a tree of async backtraces
// (pending()), a stall detector (set_stall_threshold()), and the places that name coroutines in
// both and in unhandled-exception reports.
//
// The debug aids: where each coroutine was created and where it awaits is recorded only in a
// build without NDEBUG, or with KAA_DEBUG_AIDS=1 defined (CMake: -DKAA_DEBUG_AIDS=ON, which
// defines it for the library and everything linking kaa::kaa). Without them pending() still
// lists every suspended coroutine and what it waits on, but not their places or names, and
// stall and unhandled-exception reports say "coroutine" without a name. The stall detector
// works in every build; unarmed it costs one load and branch per callback.
//
// Threads: loop thread only (docs/semantics.md [debug]).

#include <kaa/detail/debug_aids.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kaa::debug {

/// A place in the source (file, function, line); `known()` is false where nothing was recorded.
using Location = detail::SourceSite;

/// One suspended coroutine in pending()'s tree.
struct PendingCoroutine {
    /// The coroutine's function ("fetch"; "operator()" for a lambda), empty if not recorded.
    std::string function;
    /// Where it was created (the coroutine function's definition: its opening line with clang,
    /// its closing brace with GCC).
    Location created;
    /// Where it waits: the co_await it is suspended at.
    Location waits_at;
    /// What it waits on: "coroutine fetch (net.cpp:12)", "delay() (due in 250 ms)",
    /// "a thread job", "IOChannel::read() on fd 7", "InProgressAny of 3", "NotFinished (next
    /// iteration)", "its turn (POLICY_SYNCHRONIZED)", "InProgress" (a plain one)…
    std::string waits_on;
    /// The suspended coroutine it waits on, if it waits on one (the next frame of the async
    /// backtrace); a coroutine awaited by several appears under each.
    std::vector<PendingCoroutine> awaits;
};

/// Every suspended coroutine frame of the loop, as a forest: the roots are the coroutines no
/// other suspended coroutine awaits, each node's `awaits` is the coroutine it waits on. Frames
/// that run right now (this call's callers) are not suspended and not listed. O(frames).
/// Loop thread only.
std::vector<PendingCoroutine> pending();

/// The tree as text, one coroutine per line, indented two spaces per level:
///   coroutine main_task (app.cpp:10) waits at app.cpp:14 on coroutine fetch (net.cpp:30)
///     coroutine fetch (net.cpp:30) waits at net.cpp:35 on delay() (due in 250 ms)
std::string to_string(const std::vector<PendingCoroutine>& tree);

/// Prints to_string(pending()) to `out` (stderr by default). Loop thread only.
void print_pending(std::FILE* out = stderr);

/// Whether this build of the library records creation and await places (the debug aids).
bool aids_enabled() noexcept;

/// A stall: one unit of loop work that held the loop longer than the threshold.
struct Stall {
    /// What it was: "coroutine worker (app.cpp:10)", "the callback of a timer: <its type>",
    /// "the callback of an IOMonitor on fd 5: <its type>", "a queued call of <its type>"…
    std::string what;
    /// How long it held the loop (without nested units reported on their own).
    std::chrono::nanoseconds duration;
};
/// Receives stall reports, on the loop thread, right after the unit ended.
using StallHandler = std::function<void(const Stall&)>;

/// Arms the stall detector: every unit of loop work — a timer, I/O or queued callback, a
/// coroutine step (from one resumption to its next suspension) — that holds the loop longer
/// than `threshold` is reported to `handler` (empty: a line "kaa: stall: <what> held the loop
/// for <n> ms" on stderr). Units nest (a timer finishes an InProgress, which resumes a
/// coroutine inline): a stall is reported once, by the innermost unit that explains it; an
/// exception from the handler is reported ([core.report]). std::nullopt disarms it. Replaces
/// any earlier setting. Loop thread only.
void set_stall_threshold(std::optional<std::chrono::milliseconds> threshold,
                         StallHandler handler = {});

}  // namespace kaa::debug

#pragma GCC visibility pop
