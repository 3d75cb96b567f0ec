#pragma once
// Coroutine<T>: the return type of a kaa coroutine — itself an InProgress<T>.
//
//   kaa::Coroutine<int> do_something() {
//       for (int i = 0; i < 10; ++i) {
//           do_something_expensive();
//           co_await kaa::NotFinished;  // give the main loop a time slice
//       }
//       co_return 42;
//   }
//
// Rules (kaa-reference §1):
//  * Eager: calling it runs the body up to its first real suspension before the call returns.
//    An exception thrown before that propagates to the caller (nothing is reported).
//  * `co_await kaa::NotFinished` resumes in a later main-loop iteration, never inside the call.
//  * `co_await ip` on a finished InProgress does not suspend (a failure is thrown at once); on
//    an unfinished one the coroutine resumes when it finishes — inline, inside finish(), when
//    the interval is 0 (kaa's behaviour; past a nesting bound the resumption is deferred to the
//    outermost finish() so the stack stays bounded).
//  * Locals are destroyed (cleanup runs) before the result listeners are called; parameters
//    live as long as the frame, i.e. until the coroutine is done and its last handle is gone.
//  * A running coroutine owns itself: dropping every handle does not stop it.
//  * abort() throws InProgressAborted at the suspension point (see Coroutine::abort()); the
//    coroutine always ends finished and failed. throw_exception() closes it instead (see there).
//  * A coroutine that fails with exactly InProgressAborted (it did not catch the abort of what
//    it awaited) is not reported as unhandled, as in kaa; any other failure nobody consumed is.
//  * Options (interval, policies, progress): wrap the coroutine function with kaa::coroutine()
//    (kaa/coroutine_policy.hpp).
//  * At loop shutdown (and at process exit) suspended coroutines are unwound: an
//    InProgressAborted is thrown at their suspension point so their destructors run.
//  * C++ forbids co_await inside a catch handler: record the exception, await after it.
//
// Memory: one allocation per call (the frame, which also holds the InProgress state), served
// from a per-thread size-class free list (so none at all in steady state), refilled from a
// frame arena of 64 KiB–2 MiB chunks: memory once used for frames stays reserved for frames
// (src/frame_alloc.cpp). Releasing a chain of frames that hold
// each other (parameters holding the next coroutine) is iterative.
//
// Threads: coroutines run on the main-loop thread; create, abort and close them there.
// An awaited InProgress finished from another thread resumes the coroutine on the loop thread.

#include <kaa/coroutine_policy.hpp>
#include <kaa/detail/coroutine_impl.hpp>
#include <kaa/inprogress.hpp>
