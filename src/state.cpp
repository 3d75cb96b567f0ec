// The InProgress shared state: listener lists, completion, abort rules, weak references.

#include <kaa/detail/debug_aids.hpp>
#include <kaa/detail/loop.hpp>
#include <kaa/detail/state.hpp>
#include <kaa/errors.hpp>
#include <kaa/inprogress.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace kaa::detail {

// ---------------------------------------------------------------- threads blocked in wait()

std::atomic<bool> g_ever_blocked{false};

namespace {
std::mutex g_block_mutex;
std::condition_variable g_block_cv;
std::atomic<int> g_blocked{0};
}  // namespace

bool block_until(const std::function<bool()>& finished, std::optional<Duration> timeout) {
    g_ever_blocked.store(true);
    std::unique_lock lock(g_block_mutex);
    g_blocked.fetch_add(1);
    const auto deadline = timeout ? Clock::now() + *timeout : Clock::time_point::max();
    // Sliced waits are a safety net for the one race notify_blocked_threads() cannot close
    // without a fence on every completion: the very first blocker of the process.
    while (!finished()) {
        auto slice = Clock::now() + std::chrono::milliseconds(10);
        if (slice > deadline) slice = deadline;
        g_block_cv.wait_until(lock, slice);
        if (Clock::now() >= deadline) break;
    }
    g_blocked.fetch_sub(1);
    return finished();
}

void notify_blocked_threads() noexcept {
    if (!g_ever_blocked.load(std::memory_order_relaxed)) return;
    // A read-modify-write, not a fence + load (TSan does not model fences, -Wtsan): it reads
    // the latest count. If it comes after a blocker's fetch_add(1) it sees the blocker; if
    // before, that fetch_add reads from it and so sees (happens-after) the completion, which
    // the blocker's finished() check then observes.
    if (g_blocked.fetch_add(0, std::memory_order_seq_cst) == 0) return;
    std::lock_guard lock(g_block_mutex);
    g_block_cv.notify_all();
}

namespace {
std::mutex& weak_mutex() {
    static std::mutex m;
    return m;
}
std::atomic<std::uint64_t> g_listener_ids{1};
}  // namespace

std::uint64_t next_listener_id() noexcept {
    return g_listener_ids.fetch_add(1, std::memory_order_relaxed);
}

void StateBase::drop_listeners() noexcept {
    // Listeners of a state that never finished: drop them (heap callbacks free themselves).
    for (Listener* l = head_; l;) {
        Listener* next = l->next;
        l->drop();
        l = next;
    }
}

bool StateBase::try_add_ref() noexcept {
    auto n = refs_.load(std::memory_order_relaxed);
    while (n != 0) {
        if (refs_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) return true;
    }
    return false;
}

namespace {
// States whose last reference went while another state was being finalised on this thread,
// linked through StateBase::next_dead_. The outermost last_release() frees them one by one: no
// recursion through ~StateBase → listener captures → release → ~StateBase …, which overflows
// the stack on long chains. Trivially destructible, so releases during thread or process exit
// (after thread_local destructors ran) are still safe.
thread_local bool t_releasing = false;
thread_local StateBase* t_dead = nullptr;
}  // namespace

namespace {
// docs/semantics.md [ip.handled.4]: an abort is not an error nobody saw. A failure with an
// InProgressAborted (or subclass) is never reported: a coroutine that did not catch the abort
// (or TimeoutException) of what it awaited, a noabort() shield or waitfor() target inheriting
// one, the frames unwound at loop shutdown (asyncio does not report cancelled tasks either).
bool is_abort(const std::exception_ptr& e) noexcept { return holds<InProgressAborted>(e); }
}  // namespace

// Inlined into last_release(): it runs once per state.
#if KAA_DEBUG_AIDS_ON
namespace {
// Labels of InProgress states (debug_label()), under a mutex: a state may be finalised on any
// thread. Made on first use, never freed; g_labelled skips the lock while none was ever made.
std::mutex& labels_mutex() {
    static std::mutex* m = new std::mutex();
    return *m;
}
std::unordered_map<const StateBase*, std::string>* g_labels = nullptr;  // labels_mutex()
std::atomic<bool> g_labelled{false};

void forget_label(const StateBase* state) noexcept {
    if (!g_labelled.load(std::memory_order_relaxed)) return;
    std::lock_guard lock(labels_mutex());
    if (g_labels) g_labels->erase(state);
}
}  // namespace

void debug_label(const StateBase* state, std::string label) {
    std::lock_guard lock(labels_mutex());
    if (!g_labels) g_labels = new std::unordered_map<const StateBase*, std::string>();
    (*g_labels)[state] = std::move(label);
    g_labelled.store(true, std::memory_order_relaxed);
}
std::string debug_label_of(const StateBase* state) {
    if (!g_labelled.load(std::memory_order_relaxed)) return {};
    std::lock_guard lock(labels_mutex());
    auto it = g_labels->find(state);
    return it == g_labels->end() ? std::string() : it->second;
}
#else
void debug_label(const StateBase*, std::string) {}
std::string debug_label_of(const StateBase*) { return {}; }
#endif

std::string StateBase::describe() const {
    std::string label = debug_label_of(this);
    return label.empty() ? std::string("InProgress") : label;
}

namespace {
/// The context of an unhandled failure: a coroutine is named ([core.report]).
[[gnu::noinline]] void report_unhandled(const StateBase& s) noexcept {
    try {
        if (s.closes_on_finish_) {  // a coroutine
            report_exception(s.error_, "Unhandled InProgress exception in " + s.describe());
            return;
        }
    } catch (...) {
    }
    report_exception(s.error_, "Unhandled InProgress exception");
}
}  // namespace

[[gnu::always_inline]] inline void StateBase::finalize() noexcept {
    if (status() == failed && !handled_.load() && !is_abort(error_)) {
        report_unhandled(*this);
    }
#if KAA_DEBUG_AIDS_ON
    forget_label(this);
#endif
    if (weak_) {
        WeakControl* w = weak_;
        {
            std::lock_guard lock(weak_mutex());
            w->target = nullptr;
        }
        if (w->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete w;
    }
    destroy();
}

void StateBase::last_release() noexcept {
    if (t_releasing) {
        next_dead_ = t_dead;  // tail_ is not needed any more: the state is dead
        t_dead = this;
        return;
    }
    t_releasing = true;
    finalize();
    while (StateBase* s = t_dead) {
        t_dead = s->next_dead_;
        s->finalize();
    }
    t_releasing = false;
}

StateExtra& StateBase::extra() {
    if (!extra_) extra_ = std::make_unique<StateExtra>();
    return *extra_;
}

WeakControl* StateBase::weak_control() {
    std::lock_guard lock(weak_mutex());
    if (!weak_) {
        weak_ = new WeakControl;
        weak_->target = this;
    }
    return weak_;
}

void StateBase::add_listener(Listener* l) {
    if (finished()) {
        // Late connect (docs/semantics.md [ip.listen.2]): the outcome is delivered at once.
        bool is_failed = status() == failed;
        if (l->wants(is_failed)) {
            StateRef keep(this);
            bool keep_going = true;
            try {
                keep_going = l->fire(l, this);
            } catch (const BaseException&) {
                throw;
            } catch (...) {
                report_exception(std::current_exception(), "Exception while emitting signal");
            }
            if (!keep_going && is_failed) handled_ = true;
        } else {
            l->drop();
        }
        return;
    }
    l->next = nullptr;
    if (tail_) {
        tail_->next = l;
    } else {
        head_ = l;
    }
    tail_ = l;
    if (watches_listeners_) {
        // on_listeners_changed() may finish it, and a listener may drop the last handle.
        StateRef keep(try_add_ref() ? this : nullptr, /*adopt=*/true);
        on_listeners_changed();
    }
}

bool StateBase::unlink_listener(Listener* l) noexcept {
    Listener* prev = nullptr;
    for (Listener* cur = head_; cur; prev = cur, cur = cur->next) {
        if (cur != l) continue;
        (prev ? prev->next : head_) = cur->next;
        if (tail_ == cur) tail_ = prev;
        cur->next = nullptr;
        if (watches_listeners_) {
            StateRef keep(try_add_ref() ? this : nullptr, /*adopt=*/true);
            try {
                on_listeners_changed();
            } catch (...) {
                report_exception(std::current_exception(), "Exception in listener bookkeeping");
            }
        }
        return true;
    }
    return false;
}

bool StateBase::remove_listener(std::uint64_t id) noexcept {
    for (Listener* cur = head_; cur; cur = cur->next) {
        if (cur->id == id) {
            unlink_listener(cur);
            cur->drop();
            return true;
        }
    }
    return false;
}

std::size_t StateBase::result_listener_count() const noexcept {
    if (finished()) return 0;  // whatever is left in head_ is being dispatched
    std::size_t n = 0;
    for (Listener* cur = head_; cur; cur = cur->next) n += cur->wants(false) ? 1 : 0;
    return n;
}

void StateBase::fail(std::exception_ptr e) {
    expect_pending();
    error_ = std::move(e);
    set_status(failed);
    complete();
}

void StateBase::complete_listeners() {
    // An Any/All that finished from outside drops its links on its items first.
    if (watches_listeners_) on_listeners_changed();
    notify_blocked_threads();
    // Abort listeners go at once (kaa disconnects every signal after the emission); dropping
    // them may release the last handle of other states, never of this one (the caller holds
    // a handle).
    if (extra_ && !extra_->abort_listeners.empty()) {
        std::vector<AbortListener> dropped = std::move(extra_->abort_listeners);
        extra_->abort_listeners.clear();
    }
    if (!head_) return;
    run_bounded([this] { dispatch(); },
                [this] {
                    StateRef keep(this);
                    return Task([keep = std::move(keep)] { keep->dispatch(); });
                });
}

void StateBase::dispatch() {
    // head_ now holds the listeners still to be called. Unlink each before calling it: a
    // listener may connect (fires at once), disconnect another listener (it is then never
    // called), finish other InProgress objects or drop the last handle to this one (`keep`).
    KAA_INVARIANT(on_loop_thread(), "InProgress listeners called off the loop thread");
    StateRef keep(this);
    const bool is_failed = status() == failed;
    std::exception_ptr base_exception;
    while (Listener* l = head_) {
        head_ = l->next;
        if (!head_) tail_ = nullptr;
        l->next = nullptr;
        if (!l->wants(is_failed)) {
            l->drop();
            continue;
        }
        try {
            if (!l->fire(l, this) && is_failed) handled_ = true;
        } catch (const BaseException&) {
            // kaa: BaseException (an abort, SystemExit) propagates out of the emission. The
            // other listeners are still called, so no awaiting coroutine is left hanging.
            if (!base_exception) base_exception = std::current_exception();
        } catch (...) {
            report_exception(std::current_exception(), "Exception while emitting signal");
        }
    }
    if (base_exception) std::rethrow_exception(base_exception);
}

bool StateBase::abortable() const noexcept {
    if (abortable_ >= 0) return abortable_ == 1;
    return extra_ && !extra_->abort_listeners.empty();
}

void throw_not_abortable(const StateBase& s, const char* what) {
    // abortable() is false either because it was set so, or (unset) for want of abort listeners.
    const char* why = s.abortable_ == 0
                          ? "it was made unabortable (set_abortable(false), "
                            "InProgressOptions{.abortable = false} or noabort())"
                          : "it has no abort listener (connect_abort()) and was not made abortable "
                            "(set_abortable(true))";
    throw std::runtime_error(std::string("kaa: abort(): ") + what + " cannot be aborted: " + why);
}

void throw_abort_vetoed(const char* what) {
    throw std::runtime_error(std::string("kaa: abort(): ") + what +
                             " cannot be aborted: an abort listener returned false");
}

AbortingScope::AbortingScope(StateBase& s) : x_(s.extra_if()) {
    if (!x_) return;
    if (x_->aborting) {
        x_ = nullptr;  // the outer abort() clears the flag
        throw std::runtime_error("kaa: abort(): InProgress already being aborted");
    }
    x_->aborting = true;
}

std::uint64_t StateBase::add_abort_listener(std::function<bool(const InProgressAborted&)> fn) {
    if (finished()) return 0;  // dropped on finish anyway
    std::uint64_t id = next_listener_id();
    extra().abort_listeners.push_back({id, std::move(fn)});
    return id;
}

bool StateBase::remove_abort_listener(std::uint64_t id) noexcept {
    if (!extra_) return false;
    auto& v = extra_->abort_listeners;
    for (auto it = v.begin(); it != v.end(); ++it) {
        if (it->id == id) {
            v.erase(it);
            return true;
        }
    }
    return false;
}

namespace {
/// Calls `listeners` with the InProgressAborted in `exc`; returns false iff one returned false.
bool call_abort_listeners(const StateBase& s, const std::vector<AbortListener>& listeners,
                          const std::exception_ptr& exc) {
    const InProgressAborted* e = peek_exception<const InProgressAborted>(exc);
    if (!e) return true;
    // docs/semantics.md [ip.listen.3]: a listener disconnected by an earlier one of this
    // emission is skipped (while the InProgress is pending: one that an abort listener finished
    // keeps kaa's behaviour, the snapshot's listeners all run).
    auto still_connected = [&s](std::uint64_t id) {
        const StateExtra* x = s.extra_if();
        if (s.finished() || !x) return true;
        for (const auto& c : x->abort_listeners) {
            if (c.id == id) return true;
        }
        return false;
    };
    KAA_INVARIANT(on_loop_thread(), "abort listeners called off the loop thread");
    bool keep_going = true;
    for (auto& l : listeners) {
        if (!still_connected(l.id)) continue;
        try {
            if (!l.fn(*e)) keep_going = false;
        } catch (const BaseException&) {
            throw;
        } catch (...) {
            report_exception(std::current_exception(), "Exception while emitting signal");
        }
    }
    return keep_going;
}
}  // namespace

bool StateBase::emit_abort(const std::exception_ptr& exc) {
    if (!extra_ || extra_->abort_listeners.empty()) return true;
    auto listeners = extra_->abort_listeners;  // snapshot: listeners may disconnect
    return call_abort_listeners(*this, listeners, exc);
}

namespace {
thread_local int t_abort_nesting = 0;
thread_local bool t_running_deferred_aborts = false;
thread_local std::deque<std::pair<StateRef, std::exception_ptr>>* t_deferred_aborts = nullptr;
}  // namespace

bool abort_deferred_if_deep(StateBase& s, const std::exception_ptr& exc) {
    if (t_abort_nesting < kMaxAbortNesting) return false;
    if (!t_deferred_aborts)
        t_deferred_aborts = new std::deque<std::pair<StateRef, std::exception_ptr>>();
    t_deferred_aborts->emplace_back(StateRef(&s), exc);
    return true;
}

AbortNesting::AbortNesting() noexcept { ++t_abort_nesting; }

AbortNesting::~AbortNesting() {
    if (--t_abort_nesting != 0 || t_running_deferred_aborts || !t_deferred_aborts) return;
    t_running_deferred_aborts = true;
    while (!t_deferred_aborts->empty()) {
        auto [s, exc] = std::move(t_deferred_aborts->front());
        t_deferred_aborts->pop_front();
        if (s->finished()) continue;  // ended meanwhile (by an abort of its own chain)
        try {
            s->abort(exc);
        } catch (const InProgressAborted&) {
            // The aborted object did not catch it: its outcome, as when called inline.
        } catch (...) {
            report_exception(std::current_exception(), "Exception while aborting");
        }
    }
    t_running_deferred_aborts = false;
}

void StateBase::abort(std::exception_ptr exc) {
    if (finished()) throw std::runtime_error("kaa: abort(): InProgress already finished");
    InProgressBase self = detail::Access::share<InProgressBase>(this);
    if (!abortable()) throw_not_abortable(*this, "InProgress");
    if (abort_deferred_if_deep(*this, exc)) return;
    AbortNesting nesting;
    AbortingScope aborting(*this);  // [ip.abort.7]: a re-entrant abort() is refused
    // [ip.abort.5]: the origin is never empty, not even for the abort listeners: an abort
    // without one comes from this InProgress (an abort passed on from another keeps its own).
    if (const auto* e = peek_exception<const InProgressAborted>(exc); e && !e->origin().valid()) {
        exc = e->with_origin(self);
    }
    if (!emit_abort(exc)) throw_abort_vetoed("InProgress");
    if (finished()) return;  // an abort listener finished it
    // An explicit abort is not an error nobody saw: it is never reported as unhandled.
    handled_ = true;
    // Re-target: the delivered exception names this InProgress, keeping the origin.
    fail(abort_delivered_to(exc, this, this));
}

void StateBase::throw_exception(std::exception_ptr error) {
    if (finished()) throw std::runtime_error("kaa: throw_exception(): InProgress already finished");
    fail_thrown(std::move(error));
}

void StateBase::fail_thrown(std::exception_ptr error) {
    // kaa: an InProgressAborted thrown into an InProgress with abort listeners notifies them
    // and counts as handled; the exception listeners come first ([ip.abort.6]). fail() drops
    // the abort listeners, so they are taken out before.
    std::vector<AbortListener> abort_listeners;
    if (extra_ && !extra_->abort_listeners.empty() && holds<InProgressAborted>(error)) {
        abort_listeners = std::move(extra_->abort_listeners);
        extra_->abort_listeners.clear();
        handled_ = true;
    }
    if (abort_listeners.empty()) {
        fail(std::move(error));
        return;
    }
    StateRef keep(this);  // a listener may drop the last handle
    std::exception_ptr base_exception;
    try {
        fail(error);
    } catch (const BaseException&) {
        base_exception = std::current_exception();  // after the abort listeners, as complete()
    }
    call_abort_listeners(*this, abort_listeners, error);
    if (base_exception) std::rethrow_exception(base_exception);
}

bool report_late_outcome(const StateBase& s) noexcept {
    // [ip.waitfor.2]: reported once, when it comes. A failure is reported itself (and so counts
    // as handled); a result as kaa's "already finished".
    static constexpr const char* context = "Late outcome after waitfor()";
    if (s.status() == StateBase::failed) {
        report_exception(s.error_, context);
        return false;
    }
    report_exception(std::make_exception_ptr(std::runtime_error(
                         "kaa: waitfor(): InProgress already finished; the late result of the "
                         "InProgress it waited for is dropped")),
                     context);
    return true;
}

// ---------------------------------------------------------------- weak references

WeakState::WeakState(StateBase* s) {
    if (s) ctl_ = s->weak_control();
    if (ctl_) ctl_->refs.fetch_add(1, std::memory_order_relaxed);
}

WeakState::WeakState(const WeakState& o) : ctl_(o.ctl_) {
    if (ctl_) ctl_->refs.fetch_add(1, std::memory_order_relaxed);
}

WeakState::~WeakState() {
    if (ctl_ && ctl_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete ctl_;
}

bool WeakState::refers_to(const StateBase* s) const noexcept {
    // A live state's weak control never changes once made, so comparing controls needs no lock.
    return ctl_ && s && s->weak_if() == ctl_;
}

bool WeakState::alive() const {
    StateBase* s = lock();
    if (s) s->release();
    return s != nullptr;
}

StateBase* WeakState::lock() const {
    if (!ctl_) return nullptr;
    std::lock_guard lock(weak_mutex());
    if (ctl_->target && ctl_->target->try_add_ref()) return ctl_->target;
    return nullptr;
}

}  // namespace kaa::detail
