// libFuzzer target: a model-based fuzzer of kaa's InProgress machinery. The input is a program
// of operations on up to kMaxEntities objects:
//   plain InProgress<int> (abortable unset / true / false), coroutines awaiting any object (one
//   body lets failures through, the other catches everything), delay(0) and delay(1 h),
//   InProgressAny / InProgressAll over 1-3 objects, ThreadPool jobs (held by a gate until the
//   program releases them), noabort() shields, timeout(0 or 1 h, abort or not);
//   finish / throw_exception / abort from outside, result+exception observers (connect_both) and
//   abort observers (connect_abort), loop steps; at the end a step, the release of every job and
//   the loop's shutdown.
// The same program runs against the library and against a small reference model written here
// (the rules of docs/semantics.md: [ip.*], [coro.abort], [coro.close], [coro.life.3],
// [ip.any], [ip.all], [ip.timeout], [ip.noabort]). After every operation the outcomes are
// compared — pending / succeeded with which value / failed with which error, abort or timeout
// — and so are what abort() and friends threw, and how often each kind of observer fired (each
// observer at most once). Any difference is reported and ends the process (__builtin_trap()).
//
// Determinism: no wall clock. Timers are 0 (due at the next step) or an hour (never due);
// steps run one loop iteration each (an interval-0 timer keeps them from sleeping). A job
// finishes only when the program releases it: the fuzzer first runs a step (so no timer is due
// any more), opens the job's gate and steps the loop until the job's result arrived.

#include <kaa/coroutine.hpp>
#include <kaa/coroutine_policy.hpp>
#include <kaa/delay.hpp>
#include <kaa/errors.hpp>
#include <kaa/inprogress.hpp>
#include <kaa/inprogress_any.hpp>
#include <kaa/main.hpp>
#include <kaa/thread.hpp>
#include <kaa/thread_pool.hpp>
#include <kaa/timer.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr int kMaxEntities = 24;
constexpr int kMaxJobs = 4;
constexpr auto kNever = std::chrono::hours(1);

// ================================================================ shared vocabulary

enum class Kind : std::uint8_t {
    none,  // a coroutine whose eager step threw: no object
    plain,
    coro,
    delay_now,
    delay_never,
    any,
    all,
    job,
    noabort,
    timeout_now,
    timeout_never,
};
const char* kind_name(Kind k) {
    static const char* names[] = {"none", "plain", "coro",    "delay(0)",   "delay(1h)",  "any",
                                  "all",  "job",   "noabort", "timeout(0)", "timeout(1h)"};
    return names[static_cast<int>(k)];
}
bool int_kind(Kind k) {
    return k == Kind::plain || k == Kind::coro || k == Kind::job || k == Kind::noabort ||
           k == Kind::timeout_now || k == Kind::timeout_never;
}

enum class St : std::uint8_t { pending, ok, failed };
enum class Exc : std::uint8_t { none, error, aborted, timeout };
struct Outcome {
    St st = St::pending;
    int value = 0;  // ok: the value (int kinds), the index (Any)
    Exc exc = Exc::none;
    int err = 0;  // Exc::error: the FuzzError id
};
// What a call threw.
enum class Threw : std::uint8_t { nothing, runtime_error, aborted, skipped };
const char* threw_name(Threw t) {
    static const char* names[] = {"nothing", "runtime_error", "InProgressAborted", "skipped"};
    return names[static_cast<int>(t)];
}

struct FuzzError : std::runtime_error {
    explicit FuzzError(int i) : std::runtime_error("fuzz error " + std::to_string(i)), id(i) {}
    int id;
};

struct Op {
    std::uint8_t code = 0;
    std::uint8_t a = 0, b = 0, c = 0, d = 0;
};

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "MODEL MISMATCH: %s\n", what.c_str());
    std::fflush(stderr);
    __builtin_trap();
}

// ================================================================ the reference model

// policy: the wrapper's watch on a recorded call; chain: a queued synchronized call waiting for
// its predecessor ([coro.policy.5]).
enum class LKind : std::uint8_t { observer, coro, anyall, noabort, timeout, policy, chain };
struct Listener {
    LKind kind;
    int who;       // the listening entity (observer: -1)
    int item = 0;  // anyall: the item's index
};

struct MEnt {
    Kind kind = Kind::none;
    Outcome out;
    std::optional<bool> abortable;  // explicit (plain)
    int abort_observers = 0;
    std::vector<Listener> listeners;  // result listeners, in connection order
    int fired_result = 0, fired_exc = 0, fired_abort = 0;
    // coro
    int target = -1;  // awaited while suspended
    int mode = 0;     // 0: failures pass through; 1: catches everything, returns 1000 + k
    int k = 0;
    bool closed_at_shutdown = false;
    int policy = 0;           // 0 none, 1 POLICY_SINGLETON, 2 POLICY_SYNCHRONIZED
    bool deferred = false;    // a queued synchronized call that has not started
    int pending_target = -1;  // what a queued call will await once started
    // any / all
    std::vector<int> items;
    bool subscribed = false;
    int remaining = 0;  // all: links still to be called
    // noabort / timeout
    int source = -1;
    bool abort_flag = false;
    bool timer_armed = false;
    // job
    int job_value = 0;
    bool job_throws = false;
    bool released = false;
};

struct Model {
    std::vector<MEnt> e;
    std::vector<int> calls[3];  // per policy: the recorded unfinished calls, oldest first

    bool pending(int x) const { return e[x].out.st == St::pending; }
    int result_count(int x) const { return static_cast<int>(e[x].listeners.size()); }
    bool abortable(int x) const {
        const MEnt& m = e[x];
        switch (m.kind) {
            case Kind::plain:
            case Kind::any:
            case Kind::all:
                return m.abortable.value_or(m.abort_observers > 0);
            case Kind::noabort:
                return false;
            default:
                return true;
        }
    }

    // ------------------------------------------------ listeners

    void add_listener(int x, Listener l) {
        if (!pending(x)) {
            deliver(l, x);  // [ip.listen.2] called at once
            return;
        }
        e[x].listeners.push_back(l);
        lazy_subscribe(x);
    }
    void remove_listener(int x, LKind kind, int who) {
        auto& ls = e[x].listeners;
        for (auto it = ls.begin(); it != ls.end(); ++it) {
            if (it->kind == kind && it->who == who) {
                ls.erase(it);
                break;
            }
        }
        lazy_unsubscribe(x);
    }
    void remove_all(int x, LKind kind, int who) {
        auto& ls = e[x].listeners;
        std::erase_if(ls, [&](const Listener& l) { return l.kind == kind && l.who == who; });
        lazy_unsubscribe(x);
    }
    // [ip.any.3] Any/All listen to their items only while something listens to them.
    void lazy_subscribe(int x) {
        MEnt& m = e[x];
        if ((m.kind != Kind::any && m.kind != Kind::all) || m.subscribed || !pending(x) ||
            result_count(x) == 0)
            return;
        // Items that finished meanwhile first, then a link on every pending item (an item
        // that is an Any/All subscribes in turn and may finish at once).
        m.subscribed = true;
        offer(x);
        for (std::size_t i = 0; i < e[x].items.size(); ++i) {
            if (!pending(x) || !e[x].subscribed) return;
            int it = e[x].items[i];
            if (pending(it)) add_listener(it, {LKind::anyall, x, static_cast<int>(i)});
        }
        // Items that finished before their turn.
        if (pending(x) && e[x].subscribed) offer(x);
    }
    void lazy_unsubscribe(int x) {
        MEnt& m = e[x];
        if ((m.kind != Kind::any && m.kind != Kind::all) || !m.subscribed || result_count(x) > 0)
            return;
        unsubscribe(x);
    }
    void unsubscribe(int x) {
        e[x].subscribed = false;
        std::vector<int> items = e[x].items;
        for (int it : items) remove_all(it, LKind::anyall, x);
    }
    // Items already finished: the first in index order (Any), all of them (All).
    void offer(int x) {
        MEnt& m = e[x];
        if (!pending(x)) return;
        if (m.kind == Kind::any) {
            for (std::size_t i = 0; i < m.items.size(); ++i) {
                if (!pending(m.items[i])) {
                    complete(x, Outcome{St::ok, static_cast<int>(i)});
                    return;
                }
            }
        } else {
            // recount(): the All counts the calls of its links from here on.
            m.remaining = 0;
            for (int it : m.items) m.remaining += pending(it) ? 1 : 0;
            if (m.remaining == 0) complete(x, Outcome{St::ok, static_cast<int>(m.items.size())});
        }
    }

    // ------------------------------------------------ finishing

    static Outcome inherit(const Outcome& o) { return o; }

    // Stores the outcome and calls the listeners. `abort_listeners_done`: abort() already
    // called the abort observers.
    void complete(int x, Outcome o, bool abort_listeners_done = false) {
        MEnt& m = e[x];
        if (!pending(x)) die("model: complete() of a finished entity");
        m.out = o;
        m.timer_armed = false;
        m.target = -1;
        if ((m.kind == Kind::any || m.kind == Kind::all) && m.subscribed) unsubscribe(x);
        if (o.st == St::failed && (o.exc == Exc::aborted || o.exc == Exc::timeout) &&
            !abort_listeners_done) {
            e[x].fired_abort += e[x].abort_observers;  // [ip.abort.6]
        }
        while (!e[x].listeners.empty()) {
            Listener l = e[x].listeners.front();
            e[x].listeners.erase(e[x].listeners.begin());
            deliver(l, x);
        }
    }

    void deliver(const Listener& l, int x) {
        const Outcome o = e[x].out;
        switch (l.kind) {
            case LKind::observer:
                if (o.st == St::ok) {
                    ++e[x].fired_result;
                } else {
                    ++e[x].fired_exc;
                }
                break;
            case LKind::coro: {
                MEnt& c = e[l.who];
                if (!pending(l.who)) break;
                c.target = -1;
                if (o.st == St::ok) {
                    complete(l.who, Outcome{St::ok, c.k});
                } else if (c.mode == 0) {
                    // A body that lets an abort through: its abort listeners are not called
                    // (unlike kaa's InProgress.throw; docs/semantics.md says nothing).
                    complete(l.who, Outcome{St::failed, 0, o.exc, o.err}, true);
                } else {
                    complete(l.who, Outcome{St::ok, 1000 + c.k});
                }
                break;
            }
            case LKind::anyall:
                if (!pending(l.who)) break;
                if (e[l.who].kind == Kind::any) {
                    complete(l.who, Outcome{St::ok, l.item});
                } else {
                    // Counted when its link is called, not when the item finished: an All
                    // that loses its listeners before then stays pending (lazy, [ip.all.3]).
                    MEnt& a = e[l.who];
                    if (a.remaining > 0) --a.remaining;
                    if (a.remaining == 0) {
                        complete(l.who, Outcome{St::ok, static_cast<int>(a.items.size())});
                    }
                }
                break;
            case LKind::noabort:
            case LKind::timeout:
                if (pending(l.who)) complete(l.who, o);
                break;
            case LKind::policy: {
                auto& cs = calls[e[x].policy];
                std::erase(cs, x);
                break;
            }
            case LKind::chain:
                chain(l.who);
                break;
        }
    }

    // chain_synchronized(): the queued call `c` starts at the head of the queue, or waits for
    // the call before it.
    void chain(int c) {
        auto& cs = calls[2];
        auto it = std::find(cs.begin(), cs.end(), c);
        if (it == cs.end()) return;  // it ended itself
        if (it == cs.begin()) {
            start(c);
            return;
        }
        add_listener(*std::prev(it), {LKind::chain, c});
    }
    // A queued call's body starts (start_deferred()).
    void start(int c) {
        MEnt& m = e[c];
        if (!m.deferred || !pending(c) || m.closed_at_shutdown) return;
        m.deferred = false;
        const int t = m.pending_target;
        if (!pending(t)) {
            const Outcome& o = e[t].out;
            if (o.st == St::ok) {
                complete(c, Outcome{St::ok, m.k});
            } else if (m.mode == 0) {
                complete(c, Outcome{St::failed, 0, o.exc, o.err}, true);
            } else {
                complete(c, Outcome{St::ok, 1000 + m.k});
            }
            return;
        }
        m.target = t;
        add_listener(t, {LKind::coro, c});
    }

    // A call through a policy wrapper: the entity it returned (an existing one for a running
    // singleton), or -1 if the eager step threw.
    int policy_call(int policy, int target, int mode, int k) {
        auto& cs = calls[policy];
        if (policy == 1 && !cs.empty()) return cs.back();
        int c;
        if (policy == 2 && !cs.empty()) {
            c = add(Kind::coro);
            e[c].mode = mode;
            e[c].k = k;
            e[c].deferred = true;
            e[c].pending_target = target;
        } else {
            new_coro(target, mode, k);
            c = static_cast<int>(e.size()) - 1;
            if (e[c].kind == Kind::none) return -1;
        }
        e[c].policy = policy;
        if (pending(c)) {
            cs.push_back(c);
            add_listener(c, {LKind::policy, c});
            if (policy == 2 && e[c].deferred) chain(c);
        }
        return c;
    }

    // ------------------------------------------------ operations

    int add(Kind k) {
        e.emplace_back();
        e.back().kind = k;
        return static_cast<int>(e.size()) - 1;
    }

    void new_coro(int target, int mode, int k) {
        int c = add(Kind::coro);
        e[c].mode = mode;
        e[c].k = k;
        if (!pending(target)) {
            const Outcome& t = e[target].out;
            if (t.st == St::ok) {
                e[c].out = Outcome{St::ok, k};
            } else if (mode == 0) {
                e[c].kind = Kind::none;  // [coro.call.3] the eager step's exception propagates
            } else {
                e[c].out = Outcome{St::ok, 1000 + k};
            }
            return;
        }
        e[c].target = target;
        add_listener(target, {LKind::coro, c});
    }

    void new_anyall(Kind k, const std::vector<int>& items) {
        int a = add(k);
        e[a].items = items;
        offer(a);  // [ip.any.2], [ip.all.1]
    }

    Threw finish(int x, Outcome o) {
        MEnt& m = e[x];
        if (m.kind != Kind::plain && m.kind != Kind::coro) return Threw::skipped;
        if (!pending(x)) return Threw::runtime_error;
        if (m.kind == Kind::coro && m.target >= 0) {
            // [coro.close] closed: it stops waiting (no cascade) and takes the outcome.
            int t = m.target;
            m.target = -1;
            remove_listener(t, LKind::coro, x);
        }
        m.deferred = false;
        complete(x, o);
        return Threw::nothing;
    }

    // abort(): `exc` is Exc::aborted or Exc::timeout.
    Threw abort(int x, Exc exc = Exc::aborted) {
        MEnt& m = e[x];
        if (m.kind == Kind::coro && m.closed_at_shutdown) return Threw::nothing;
        if (!pending(x) || !abortable(x)) return Threw::runtime_error;
        switch (m.kind) {
            case Kind::coro: {
                if (m.target >= 0) {
                    int p = m.target;
                    e[x].target = -1;
                    remove_listener(p, LKind::coro, x);
                    // [coro.abort.4] cascade
                    if (pending(p) && result_count(p) == 0 && abortable(p)) abort(p, exc);
                }
                const int mode = e[x].deferred ? 0 : e[x].mode;  // a queued body never ran
                e[x].deferred = false;
                e[x].fired_abort += e[x].abort_observers;
                complete(x, Outcome{St::failed, 0, exc}, true);
                return mode == 0 ? Threw::aborted : Threw::nothing;
            }
            case Kind::timeout_now:
            case Kind::timeout_never: {
                // [ip.timeout.4] its own abort listener first
                int s = m.source;
                remove_listener(s, LKind::timeout, x);
                e[x].timer_armed = false;
                if (e[x].abort_flag && pending(s)) abort(s, exc);
                e[x].fired_abort += e[x].abort_observers;
                complete(x, Outcome{St::failed, 0, exc}, true);
                return Threw::nothing;
            }
            default:
                e[x].fired_abort += e[x].abort_observers;
                complete(x, Outcome{St::failed, 0, exc}, true);
                return Threw::nothing;
        }
    }

    void step() {
        // Due timers in arming (= creation) order.
        for (std::size_t i = 0; i < e.size(); ++i) {
            int x = static_cast<int>(i);
            MEnt& m = e[x];
            if (!m.timer_armed || !pending(x)) continue;
            if (m.kind == Kind::delay_now) {
                complete(x, Outcome{St::ok});
            } else if (m.kind == Kind::timeout_now) {
                // [ip.timeout.1]
                m.timer_armed = false;
                int s = m.source;
                remove_listener(s, LKind::timeout, x);
                if (e[x].abort_flag && pending(s)) abort(s, Exc::timeout);
                if (pending(x)) complete(x, Outcome{St::failed, 0, Exc::timeout});
            }
        }
    }

    void release(int j) {
        step();
        MEnt& m = e[j];
        m.released = true;
        if (!pending(j)) return;
        if (m.job_throws) {
            complete(j, Outcome{St::failed, 0, Exc::error, m.job_value});
        } else {
            complete(j, Outcome{St::ok, m.job_value});
        }
    }

    // [coro.life.3]
    void shutdown() {
        std::vector<int> registry;
        for (std::size_t i = 0; i < e.size(); ++i) {
            if (e[i].kind == Kind::coro && pending(static_cast<int>(i))) {
                registry.push_back(static_cast<int>(i));
            }
        }
        for (int c : registry) {  // oldest first
            if (!pending(c) || e[c].closed_at_shutdown) continue;
            e[c].closed_at_shutdown = true;
            if (e[c].target < 0) continue;
            int p = e[c].target;
            e[c].target = -1;
            remove_listener(p, LKind::coro, c);
            if (!pending(p) || result_count(p) != 0 || !abortable(p)) continue;
            if (e[p].kind == Kind::coro) continue;  // ends in its own turn
            abort(p);
        }
        for (auto it = registry.rbegin(); it != registry.rend(); ++it) {  // newest first
            int c = *it;
            if (!pending(c) || !e[c].closed_at_shutdown) continue;
            e[c].fired_abort += e[c].abort_observers;
            complete(c, Outcome{St::failed, 0, Exc::aborted}, true);
        }
    }
};

// ================================================================ the library side

struct Counters {
    int result = 0, exc = 0, abort = 0;
};

struct Gate {
    std::mutex m;
    std::condition_variable cv;
    bool open = false;
    void wait() {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return open; });
    }
    void release() {
        {
            std::lock_guard lock(m);
            open = true;
        }
        cv.notify_all();
    }
};

struct LEnt {
    Kind kind = Kind::none;
    std::shared_ptr<Counters> counters = std::make_shared<Counters>();
    std::optional<kaa::InProgress<int>> i;
    std::optional<kaa::Coroutine<int>> co;
    std::optional<kaa::InProgress<void>> v;
    std::optional<kaa::InProgressAny> any;
    std::optional<kaa::InProgressAll> all;
    std::shared_ptr<Gate> gate;

    kaa::InProgressBase base() const {
        if (co) return *co;
        if (i) return *i;
        if (v) return *v;
        if (any) return *any;
        return *all;
    }
};

kaa::Coroutine<int> body(kaa::InProgressBase target, int mode, int k) {
    if (mode == 0) {
        co_await target;
        co_return k;
    }
    bool caught = false;
    try {
        co_await target;
    } catch (...) {
        caught = true;
    }
    co_return caught ? 1000 + k : k;
}

std::shared_ptr<kaa::ThreadPool>& pool() {
    static auto p = std::make_shared<kaa::ThreadPool>(kMaxJobs);
    return p;
}

void step_once() {
    int n = 0;
    kaa::main::loop([&] { return n++ == 0; });
}

template <class F>
Threw call(F&& f) {
    try {
        f();
        return Threw::nothing;
    } catch (const kaa::InProgressAborted&) {
        return Threw::aborted;
    } catch (const std::runtime_error&) {
        return Threw::runtime_error;
    }
}

struct Lib {
    std::vector<LEnt> e;

    void observe(int x) {
        auto c = e[x].counters;
        auto bad = [c](std::exception_ptr) { ++c->exc; };
        LEnt& l = e[x];
        if (l.co) {
            l.co->connect_both([c](const int&) { ++c->result; }, bad);
        } else if (l.i) {
            l.i->connect_both([c](const int&) { ++c->result; }, bad);
        } else if (l.v) {
            l.v->connect_both([c] { ++c->result; }, bad);
        } else if (l.any) {
            l.any->connect_both([c](const kaa::SubResult&) { ++c->result; }, bad);
        } else {
            l.all->connect_both([c](const kaa::AllResult&) { ++c->result; }, bad);
        }
    }
    void observe_abort(int x) {
        auto c = e[x].counters;
        e[x].base().connect_abort([c](const kaa::InProgressAborted&) { ++c->abort; });
    }
};

// ================================================================ running a program

// KAA_FUZZ_TRACE=1: print each operation as it runs (to reproduce a finding by hand).
const bool g_trace = std::getenv("KAA_FUZZ_TRACE") != nullptr;

using BodyFn = kaa::Coroutine<int> (*)(kaa::InProgressBase, int, int);

struct Runner {
    Model m;
    Lib lib;
    kaa::CoroutineFunction<BodyFn> singleton =
        kaa::coroutine(kaa::CoroutineOptions{.policy = kaa::POLICY_SINGLETON}, &body);
    kaa::CoroutineFunction<BodyFn> synchronized =
        kaa::coroutine(kaa::CoroutineOptions{.policy = kaa::POLICY_SYNCHRONIZED}, &body);
    std::vector<int> jobs;
    int step_no = 0;
    std::string trace;

    int count() const { return static_cast<int>(m.e.size()); }
    int ref(std::uint8_t b) const { return b % count(); }
    // An int-typed entity (for noabort / timeout), or -1.
    int int_ref(std::uint8_t b) const {
        std::vector<int> xs;
        for (int x = 0; x < count(); ++x) {
            if (int_kind(m.e[x].kind)) xs.push_back(x);
        }
        return xs.empty() ? -1 : xs[b % xs.size()];
    }

    void compare(const char* when) {
        for (int x = 0; x < count(); ++x) {
            const MEnt& me = m.e[x];
            const LEnt& le = lib.e[x];
            if (me.kind != le.kind) die(diag(x, when, "kind differs"));
            if (me.kind == Kind::none) continue;
            kaa::InProgressBase b = le.base();
            const St st = !b.finished() ? St::pending : b.failed() ? St::failed : St::ok;
            if (st != me.out.st) die(diag(x, when, "state differs"));
            if (st == St::ok) {
                int value = 0;
                bool has_value = true;
                if (le.co) {
                    value = le.co->result();
                } else if (le.i) {
                    value = le.i->result();
                } else if (le.any) {
                    value = static_cast<int>(le.any->result().index());
                } else {
                    has_value = false;
                }
                if (has_value && value != me.out.value) {
                    die(diag(x, when, "value differs: library " + std::to_string(value)));
                }
            } else if (st == St::failed) {
                std::exception_ptr err = b.exception();
                Exc exc = kaa::holds<kaa::TimeoutException>(err)    ? Exc::timeout
                          : kaa::holds<kaa::InProgressAborted>(err) ? Exc::aborted
                          : kaa::holds<FuzzError>(err)              ? Exc::error
                                                                    : Exc::none;
                if (exc != me.out.exc) {
                    die(diag(x, when,
                             "exception kind differs: library " + kaa::describe_exception(err)));
                }
                if (exc == Exc::error) {
                    int id = -1;
                    try {
                        std::rethrow_exception(err);
                    } catch (const FuzzError& f) {
                        id = f.id;
                    }
                    if (id != me.out.err) die(diag(x, when, "error id differs"));
                }
            }
            const Counters& c = *le.counters;
            if (c.result != me.fired_result || c.exc != me.fired_exc || c.abort != me.fired_abort) {
                die(diag(x, when,
                         "observer calls differ: library result/exception/abort " +
                             std::to_string(c.result) + "/" + std::to_string(c.exc) + "/" +
                             std::to_string(c.abort)));
            }
        }
    }

    std::string diag(int x, const char* when, const std::string& what) const {
        const MEnt& me = m.e[x];
        std::string s = std::string(when) + ": entity " + std::to_string(x) + " (" +
                        kind_name(me.kind) + "): " + what + "; model: ";
        static const char* sts[] = {"pending", "ok", "failed"};
        static const char* excs[] = {"-", "error", "aborted", "timeout"};
        s += sts[static_cast<int>(me.out.st)];
        if (me.out.st == St::ok) s += " " + std::to_string(me.out.value);
        if (me.out.st == St::failed) {
            s += std::string(" ") + excs[static_cast<int>(me.out.exc)] + " " +
                 std::to_string(me.out.err);
        }
        s += ", observers result/exception/abort " + std::to_string(me.fired_result) + "/" +
             std::to_string(me.fired_exc) + "/" + std::to_string(me.fired_abort);
        s += "\nprogram:\n" + trace;
        return s;
    }

    void expect(Threw model, Threw lib_threw, const char* what) {
        if (model != lib_threw) {
            die(std::string(what) + " threw " + threw_name(lib_threw) + ", model says " +
                threw_name(model) + "\nprogram:\n" + trace);
        }
    }

    void note(const std::string& s) {
        trace += "  " + s + "\n";
        if (g_trace) std::fprintf(stderr, "  %s\n", s.c_str());
    }

    void exec(const Op& op) {
        const bool room = count() < kMaxEntities;
        switch (op.code % 12) {
            case 0: {  // plain InProgress<int>
                if (!room) return;
                const int ab = op.a % 3;
                std::optional<bool> abortable;
                if (ab == 1) abortable = true;
                if (ab == 2) abortable = false;
                note("e" + std::to_string(count()) + " = plain(abortable " +
                     (ab == 0   ? "unset"
                      : ab == 1 ? "true"
                                : "false") +
                     ")");
                int x = m.add(Kind::plain);
                m.e[x].abortable = abortable;
                LEnt l;
                l.kind = Kind::plain;
                l.i = kaa::InProgress<int>(kaa::InProgressOptions{.abortable = abortable});
                lib.e.push_back(std::move(l));
                return;
            }
            case 1: {  // coroutine awaiting an entity
                if (!room || count() == 0) return;
                const int t = ref(op.a);
                if (m.e[t].kind == Kind::none) return;
                const int mode = op.b & 1;
                const int k = op.c % 100;
                const int policy = op.d % 4 < 2 ? 0 : op.d % 4 - 1;
                static const char* const policy_names[] = {"", ", singleton", ", synchronized"};
                const std::string what = "coro(await e" + std::to_string(t) +
                                         (mode ? ", catch all" : "") + ", k " + std::to_string(k) +
                                         policy_names[policy] + ")";
                auto call_lib = [&] {
                    kaa::InProgressBase target = lib.e[t].base();
                    if (policy == 1) return singleton(target, mode, k);
                    if (policy == 2) return synchronized(target, mode, k);
                    return body(target, mode, k);
                };
                if (policy == 1 && !m.calls[1].empty()) {
                    // [coro.policy.3] the running call again, its arguments ignored
                    const int same = m.policy_call(1, t, mode, k);
                    note(what + " -> e" + std::to_string(same) + " again");
                    kaa::Coroutine<int> again = call_lib();
                    if (!(again == *lib.e[same].co))
                        die("the singleton returned another coroutine");
                    return;
                }
                note("e" + std::to_string(count()) + " = " + what);
                if (policy == 0) {
                    m.new_coro(t, mode, k);
                } else {
                    m.policy_call(policy, t, mode, k);
                }
                LEnt l;
                l.kind = Kind::coro;
                try {
                    l.co = call_lib();
                } catch (const FuzzError&) {
                    l.kind = Kind::none;
                } catch (const kaa::InProgressAborted&) {
                    l.kind = Kind::none;
                }
                lib.e.push_back(std::move(l));
                return;
            }
            case 2:
            case 3: {  // finish / throw_exception from outside
                if (count() == 0) return;
                const int x = ref(op.a);
                const bool fin = op.code % 12 == 2;
                const int v = op.b % 100;
                if (m.e[x].kind != Kind::plain && m.e[x].kind != Kind::coro) return;
                note(std::string(fin ? "finish" : "throw") + "(e" + std::to_string(x) + ", " +
                     std::to_string(v) + ")");
                Outcome o = fin ? Outcome{St::ok, v} : Outcome{St::failed, 0, Exc::error, v};
                Threw want = m.finish(x, o);
                LEnt& l = lib.e[x];
                Threw got = call([&] {
                    if (l.co) {
                        if (fin) {
                            l.co->finish(v);
                        } else {
                            l.co->throw_exception(FuzzError(v));
                        }
                    } else if (fin) {
                        l.i->finish(v);
                    } else {
                        l.i->throw_exception(FuzzError(v));
                    }
                });
                expect(want, got, fin ? "finish()" : "throw_exception()");
                return;
            }
            case 4: {  // abort
                if (count() == 0) return;
                const int x = ref(op.a);
                if (m.e[x].kind == Kind::none) return;
                note("abort(e" + std::to_string(x) + ")");
                Threw want = m.abort(x);
                LEnt& l = lib.e[x];
                Threw got = call([&] {
                    if (l.co) {
                        l.co->abort();
                    } else {
                        l.base().abort();
                    }
                });
                expect(want, got, "abort()");
                return;
            }
            case 5: {  // result + exception observer
                if (count() == 0) return;
                const int x = ref(op.a);
                if (m.e[x].kind == Kind::none) return;
                note("observe(e" + std::to_string(x) + ")");
                m.add_listener(x, {LKind::observer, -1});
                lib.observe(x);
                return;
            }
            case 6: {  // abort observer
                if (count() == 0) return;
                const int x = ref(op.a);
                if (m.e[x].kind == Kind::none) return;
                note("observe_abort(e" + std::to_string(x) + ")");
                if (m.pending(x)) ++m.e[x].abort_observers;
                lib.observe_abort(x);
                return;
            }
            case 7:
                note("step");
                m.step();
                step_once();
                return;
            case 8: {  // delay
                if (!room) return;
                const bool now = op.a & 1;
                note("e" + std::to_string(count()) + " = delay(" + (now ? "0" : "1h") + ")");
                int x = m.add(now ? Kind::delay_now : Kind::delay_never);
                m.e[x].timer_armed = true;
                LEnt l;
                l.kind = m.e[x].kind;
                l.v = kaa::delay(now ? std::chrono::nanoseconds(0) : kNever);
                lib.e.push_back(std::move(l));
                return;
            }
            case 9: {  // Any / All
                if (!room || count() == 0) return;
                const bool is_any = op.a & 1;
                std::vector<int> items;
                const int n = 1 + (op.a >> 1) % 3;
                const std::uint8_t src[] = {op.b, op.c, op.d};
                for (int i = 0; i < n; ++i) {
                    int it = ref(src[i]);
                    if (m.e[it].kind != Kind::none) items.push_back(it);
                }
                if (items.empty()) return;
                std::string s = "e" + std::to_string(count()) + " = " + (is_any ? "any" : "all") +
                                "(";
                for (int it : items) s += "e" + std::to_string(it) + " ";
                note(s + ")");
                m.new_anyall(is_any ? Kind::any : Kind::all, items);
                LEnt l;
                l.kind = is_any ? Kind::any : Kind::all;
                std::vector<kaa::InProgressBase> bases;
                for (int it : items) bases.push_back(lib.e[it].base());
                if (is_any) {
                    l.any.emplace(kaa::InProgressList(bases), kaa::FINISH_IDX);
                } else {
                    l.all.emplace(kaa::InProgressList(bases));
                }
                lib.e.push_back(std::move(l));
                return;
            }
            case 10: {  // pool job / release
                if (op.a & 1) {
                    if (!room || static_cast<int>(jobs.size()) >= kMaxJobs) return;
                    const int v = op.b % 100;
                    const bool throws = op.c & 1;
                    note("e" + std::to_string(count()) + " = job(" + std::to_string(v) +
                         (throws ? ", throws" : "") + ")");
                    int x = m.add(Kind::job);
                    m.e[x].job_value = v;
                    m.e[x].job_throws = throws;
                    LEnt l;
                    l.kind = Kind::job;
                    l.gate = std::make_shared<Gate>();
                    auto gate = l.gate;
                    l.i = kaa::threaded({.pool = pool()}, [gate, v, throws]() -> int {
                        gate->wait();
                        if (throws) throw FuzzError(v);
                        return v;
                    })();
                    jobs.push_back(x);
                    lib.e.push_back(std::move(l));
                } else {
                    if (jobs.empty()) return;
                    const int j = jobs[op.b % jobs.size()];
                    if (m.e[j].released) return;
                    note("release(e" + std::to_string(j) + ")");
                    release(j);
                }
                return;
            }
            case 11: {  // noabort / timeout
                if (!room) return;
                const int s = int_ref(op.a);
                if (s < 0) return;
                const int which = op.b % 3;
                const bool abort_flag = op.c & 1;
                Kind k = which == 0   ? Kind::noabort
                         : which == 1 ? Kind::timeout_now
                                      : Kind::timeout_never;
                note("e" + std::to_string(count()) + " = " + kind_name(k) + " of e" +
                     std::to_string(s) + (which != 0 && abort_flag ? ", abort" : ""));
                int x = m.add(k);
                m.e[x].source = s;
                m.e[x].abort_flag = which != 0 && abort_flag;
                m.e[x].timer_armed = which != 0;
                m.add_listener(s, {which == 0 ? LKind::noabort : LKind::timeout, x});
                LEnt l;
                l.kind = k;
                kaa::InProgress<int> src = lib.e[s].co ? *lib.e[s].co : *lib.e[s].i;
                if (which == 0) {
                    l.i = src.noabort();
                } else {
                    l.i = src.timeout(which == 1 ? std::chrono::nanoseconds(0) : kNever, {},
                                      abort_flag);
                }
                lib.e.push_back(std::move(l));
                return;
            }
        }
    }

    void release(int j) {
        m.release(j);
        step_once();  // no timer is due after this one
        lib.e[j].gate->release();
        while (!lib.e[j].i->finished()) step_once();
    }

    void release_all() {
        for (int j : jobs) {
            if (!m.e[j].released) {
                note("release(e" + std::to_string(j) + ")");
                release(j);
            }
        }
    }
};

int g_reports = 0;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // Unhandled failures (a thrown plain InProgress nobody consumed) are expected here.
    kaa::set_unhandled_exception_handler([](std::exception_ptr, std::string_view) { ++g_reports; });
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 5 * 64) return 0;  // at most 64 operations
    std::vector<Op> ops;
    for (std::size_t i = 0; i + 5 <= size; i += 5) {
        ops.push_back(Op{data[i], data[i + 1], data[i + 2], data[i + 3], data[i + 4]});
    }
    Runner r;
    kaa::main::post([&] {
        kaa::Timer ticker([] {});  // steps never sleep
        ticker.start(std::chrono::nanoseconds(0));
        for (const Op& op : ops) {
            r.exec(op);
            r.compare("after the last operation");
        }
        r.note("step");
        r.m.step();
        step_once();
        r.release_all();
        r.compare("before shutdown");
        ticker.stop();
        kaa::main::stop();
    });
    kaa::main::run();
    r.note("shutdown");
    r.m.shutdown();
    r.compare("after shutdown");
    if (std::getenv("KAA_FUZZ_TRACE") != nullptr)
        std::fprintf(stderr, "program:\n%s", r.trace.c_str());
    // Disarm what could still fire later (an hour-long delay or timeout).
    for (LEnt& l : r.lib.e) {
        if ((l.kind == Kind::delay_never || l.kind == Kind::timeout_never) &&
            !l.base().finished()) {
            try {
                l.base().abort();
            } catch (...) {
            }
        }
    }
    return 0;
}
