#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// What kaa records about coroutine frames for kaa::debug::pending(), stall reports and
// unhandled-exception reports (kaa/debug.hpp): where each frame was created and where it last
// awaited. Recorded only when KAA_DEBUG_AIDS_ON is 1 — by default in a build without NDEBUG;
// -DKAA_DEBUG_AIDS=1 turns it on with NDEBUG too (CMake: -DKAA_DEBUG_AIDS=ON), -DKAA_DEBUG_AIDS=0
// off without it. Off, nothing is recorded and nothing is paid: the recording calls are
// compiled out of the promise and its await_transform().
//
// The records live beside the frames, in a table of the library (src/debug.cpp, locked),
// never inside them: a frame's layout is the same with and without the aids, so translation
// units that disagree on NDEBUG still link and run together (a frame created where the aids
// are off is just listed without its sites).
//
// Threads: the table is locked (a frame may be destroyed wherever its last handle goes).

#include <string>

namespace kaa::detail {

/// A place in the source: file, function and line (std::source_location's content, which
/// clang 14 with libstdc++ does not provide). current() in a default argument captures the
/// caller's place.
struct SourceSite {
    const char* file = nullptr;      ///< null: unknown
    const char* function = nullptr;  ///< the enclosing function's name (no signature)
    unsigned line = 0;

    /// The place of the call (in a default argument: of the caller).
    static constexpr SourceSite current(const char* file = __builtin_FILE(),
                                        const char* function = __builtin_FUNCTION(),
                                        unsigned line = __builtin_LINE()) noexcept {
        SourceSite s;
        s.file = file;
        s.function = function;
        s.line = line;
        return s;
    }
    /// Whether the place is known.
    constexpr bool known() const noexcept { return file != nullptr; }
};

class CoroutineBase;
class StateBase;

/// Labels an InProgress with the call that made it ("IOChannel::read(fd 5)"), for
/// kaa::debug::pending(); the label goes with the state. Library-internal; a no-op unless the
/// library was built with the aids.
void debug_label(const StateBase* state, std::string label);
/// The label of `state`, or empty.
std::string debug_label_of(const StateBase* state);

/// Records that `co` was created at `site` (the promise constructor).
void debug_note_created(const CoroutineBase* co, SourceSite site);
/// Records that `co` awaits at `site` (await_transform()).
void debug_note_await(const CoroutineBase* co, SourceSite site);
/// Forgets `co` (its frame is being destroyed).
void debug_forget(const CoroutineBase* co) noexcept;
/// Where `co` was created and last awaited, as recorded (unknown sites if not).
void debug_sites(const CoroutineBase* co, SourceSite& created, SourceSite& awaits) noexcept;
/// "name (file:line)" for a coroutine, from its record; "a coroutine" without one.
std::string debug_coroutine_name(const CoroutineBase* co);

}  // namespace kaa::detail

#if defined(KAA_DEBUG_AIDS)
#if KAA_DEBUG_AIDS
#define KAA_DEBUG_AIDS_ON 1
#else
#define KAA_DEBUG_AIDS_ON 0
#endif
#elif !defined(NDEBUG)
#define KAA_DEBUG_AIDS_ON 1
#else
#define KAA_DEBUG_AIDS_ON 0
#endif

#pragma GCC visibility pop
