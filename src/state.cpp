// The InProgress shared state: listener lists, completion, abort rules, weak references.

#include <kaa/detail/loop.hpp>
#include <kaa/detail/state.hpp>
#include <kaa/errors.hpp>
#include <kaa/inprogress.hpp>

#include <mutex>

namespace kaa::detail {

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

StateBase::~StateBase() {
    // Listeners of a state that never finished: drop them (heap callbacks free themselves).
    for (Listener* l = head_; l;) {
        Listener* next = l->next;
        l->drop(l);
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

void StateBase::last_release() noexcept {
    if (status() == failed && !handled_) {
        report_exception(error_, "Unhandled InProgress exception");
    }
    if (extra_ && extra_->weak) {
        WeakControl* w = extra_->weak;
        {
            std::lock_guard lock(weak_mutex());
            w->target = nullptr;
        }
        if (w->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete w;
    }
    destroy();
}

void StateBase::set_status(Status s) noexcept { status_.store(s, std::memory_order_release); }

StateExtra& StateBase::extra() {
    if (!extra_) extra_ = std::make_unique<StateExtra>();
    return *extra_;
}

WeakControl* StateBase::weak_control() {
    std::lock_guard lock(weak_mutex());
    StateExtra& x = extra();
    if (!x.weak) {
        x.weak = new WeakControl;
        x.weak->target = this;
    }
    return x.weak;
}

void StateBase::add_listener(Listener* l) {
    if (finished()) {
        // Late connect (Q1): the outcome is delivered at once.
        bool is_failed = status() == failed;
        if (l->wants(is_failed)) {
            StateRef keep(this);
            if (!l->fire(l, *this) && is_failed) handled_ = true;
        } else {
            l->drop(l);
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
    if (watches_listeners_) on_listeners_changed();
}

bool StateBase::unlink_listener(Listener* l) noexcept {
    Listener* prev = nullptr;
    for (Listener* cur = head_; cur; prev = cur, cur = cur->next) {
        if (cur != l) continue;
        (prev ? prev->next : head_) = cur->next;
        if (tail_ == cur) tail_ = prev;
        cur->next = nullptr;
        if (watches_listeners_) {
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
            cur->drop(cur);
            return true;
        }
    }
    return false;
}

std::size_t StateBase::result_listener_count() const noexcept {
    std::size_t n = 0;
    for (Listener* cur = head_; cur; cur = cur->next) n += cur->wants(false) ? 1 : 0;
    return n;
}

void StateBase::fail(std::exception_ptr e) {
    error_ = std::move(e);
    set_status(failed);
    complete();
}

void StateBase::complete() {
    notify_blocked_threads();
    // Take the lists out first: a listener may connect, disconnect, finish another
    // InProgress or drop the last handle to this one (kept alive by `keep`).
    StateRef keep(this);
    Listener* l = head_;
    head_ = tail_ = nullptr;
    if (extra_) extra_->abort_listeners.clear();
    const bool is_failed = status() == failed;
    while (l) {
        Listener* next = l->next;
        l->next = nullptr;
        if (!l->wants(is_failed)) {
            l->drop(l);
            l = next;
            continue;
        }
        try {
            if (!l->fire(l, *this) && is_failed) handled_ = true;
        } catch (const BaseException&) {
            // kaa: BaseException (an abort, SystemExit) propagates out of the emission.
            for (Listener* rest = next; rest;) {
                Listener* n2 = rest->next;
                rest->drop(rest);
                rest = n2;
            }
            throw;
        } catch (...) {
            report_exception(std::current_exception(), "Exception while emitting signal");
        }
        l = next;
    }
}

bool StateBase::abortable() const noexcept {
    if (abortable_ >= 0) return abortable_ == 1;
    return extra_ && !extra_->abort_listeners.empty();
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

bool StateBase::emit_abort(const std::exception_ptr& exc) {
    if (!extra_ || extra_->abort_listeners.empty()) return true;
    auto listeners = extra_->abort_listeners;  // snapshot: listeners may disconnect
    const InProgressAborted* e = nullptr;
    try {
        std::rethrow_exception(exc);
    } catch (const InProgressAborted& a) {
        e = &a;
    } catch (...) {
        return true;
    }
    bool keep_going = true;
    for (auto& l : listeners) {
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

void StateBase::abort(std::exception_ptr exc) {
    if (finished()) throw std::runtime_error("kaa: InProgress is already finished");
    InProgressBase self = [this] {
        add_ref();
        return InProgressBase::adopt(this);
    }();
    if (!abortable()) throw std::runtime_error("kaa: InProgress cannot be aborted");
    if (!emit_abort(exc)) throw std::runtime_error("kaa: InProgress cannot be aborted (vetoed)");
    if (finished()) return;  // an abort listener finished it
    // Re-target: the delivered exception names this InProgress, keeping the origin.
    std::exception_ptr delivered = exc;
    try {
        std::rethrow_exception(exc);
    } catch (const InProgressAborted& e) {
        if (!(e.inprogress() == self)) {
            delivered = e.retarget(self);
        }
        if (!e.origin().valid()) {
            try {
                std::rethrow_exception(delivered);
            } catch (const InProgressAborted& d) {
                delivered = d.with_origin(self);
            }
        }
    }
    // An explicit abort is not an error nobody saw: it is never reported as unhandled.
    handled_ = true;
    fail(delivered);
}

void StateBase::throw_exception(std::exception_ptr error) {
    if (finished()) throw std::runtime_error("kaa: InProgress already finished");
    // kaa: an InProgressAborted thrown into an InProgress with abort listeners notifies them
    // and counts as handled.
    if (extra_ && !extra_->abort_listeners.empty()) {
        bool is_abort = false;
        try {
            std::rethrow_exception(error);
        } catch (const InProgressAborted&) {
            is_abort = true;
        } catch (...) {
        }
        if (is_abort) {
            emit_abort(error);
            handled_ = true;
        }
    }
    if (finished()) return;
    fail(std::move(error));
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

StateBase* WeakState::lock() const {
    if (!ctl_) return nullptr;
    std::lock_guard lock(weak_mutex());
    if (ctl_->target && ctl_->target->try_add_ref()) return ctl_->target;
    return nullptr;
}

}  // namespace kaa::detail
