#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// KAA_INVARIANT: the library's internal invariants, checked in debug and sanitizer builds and
// compiled out with NDEBUG (Release), unless KAA_CHECK_INVARIANTS is defined.
//
// A violated invariant is a bug in kaa (or memory corrupted around it), never a usage error a
// program could handle: it prints "kaa invariant: <what>" with the place and ends the process
// with std::abort(), so that a fuzzer, a test or a soak run stops at the first one. The list of
// invariants is in docs/semantics.md [check.invariants].

#include <cstdio>
#include <cstdlib>

namespace kaa::detail {

/// Prints "kaa invariant: <what> (<file>:<line>)" to stderr and aborts the process.
[[noreturn]] inline void invariant_failed(const char* what, const char* file, int line) noexcept {
    std::fprintf(stderr, "kaa invariant: %s (%s:%d)\n", what, file, line);
    std::fflush(stderr);
    std::abort();
}

}  // namespace kaa::detail

#if !defined(NDEBUG) || defined(KAA_CHECK_INVARIANTS)
#define KAA_CHECKS_INVARIANTS 1
/// Checks `cond`; if false, reports the invariant `what` (a string literal) and aborts.
#define KAA_INVARIANT(cond, what) \
    ((cond) ? static_cast<void>(0) : ::kaa::detail::invariant_failed(what, __FILE__, __LINE__))
#else
#define KAA_CHECKS_INVARIANTS 0
#define KAA_INVARIANT(cond, what) static_cast<void>(0)
#endif

#pragma GCC visibility pop
