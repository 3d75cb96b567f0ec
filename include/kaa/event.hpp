#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// Event, EventHandler, WeakEventHandler: kaa's application-wide named events, delivered through
// the main loop (kaa.Event, docs/semantics.md [event]).
//
//   kaa::EventHandler h([](const kaa::Event& e) {
//       if (e == "BAR_EVENT") std::cout << "got BAR with " << e.arg_as<int>() << '\n';
//   });
//   h.register_events({"FOO_EVENT", "BAR_EVENT"});   // {} or no argument: every event
//   kaa::Event("BAR_EVENT").post(1);                 // dispatched after the next loop step
//
// An Event is a value: a name and an optional payload, `arg()`, kept as kaa keeps it: empty
// for no argument, the argument itself for one, a std::tuple of them for several
// (`Event("E", 1, "x").arg_as<std::tuple<int, std::string>>()`). Payloads are stored decayed
// and must be copyable; character pointers and arrays (string literals) are stored as
// std::string. Two events are equal when their names are; an Event also equals a string equal
// to its name.
//
// Dispatch (kaa's EventManager):
//  * post() queues a copy; the queue is dispatched when main::signals().step is next emitted,
//    i.e. after the next main-loop iteration — never inside post(). post() wakes the loop, so
//    that iteration does not sleep (docs/semantics.md [event.post.2]; kaa waited up to 30 s on an
//    idle loop). From another thread, post() hands the event to the loop thread (main::post) and it
//    is dispatched at the end of the iteration that receives it.
//  * Events are dispatched one at a time, in post order; each goes to every registered handler
//    whose list matches (an empty list matches every event), in registration order.
//  * A handler may return an InProgress (a Coroutine, a delay, ...): it is awaited before the
//    next handler is called and before the next event is dispatched (kaa's POLICY_SYNCHRONIZED
//    EventManager.handle). The Event passed to the handler, and the handler itself (its
//    captures), live until then. Hazard: an InProgress that never finishes stalls every later
//    event — give long work its own coroutine and return nothing, or add a timeout().
//  * A handler's std::exception (thrown, or the failure of the InProgress it returned) is
//    reported through report_exception(…, "Exception in event handler") and the next handler
//    runs. An InProgressAborted failure of a returned InProgress is ignored (aborts are never
//    reported). A kaa::BaseException thrown by the handler itself (SystemExit, an abort)
//    propagates, as out of a Signal emission, and the event's remaining handlers are skipped.
//  * Handlers registered during a dispatch see the next event; a handler unregistered by an
//    earlier handler of the same event is not called (kaa called it from its copied list).
//  * Events posted during a dispatch wait for the next step.
//  * At loop shutdown a dispatch waiting on a handler's InProgress is unwound (as every
//    suspended coroutine); undelivered events stay queued for the next step.
//
// Lifetime: the registry holds registered handlers; dropping an EventHandler handle does not
// unregister it (as in kaa, where the manager keeps the handler). Copies of an EventHandler
// share one registration. A WeakEventHandler is removed when its owner is gone.
//
// Threads: Event values may be used on any thread and post() may be called from any thread;
// EventHandler (register_events, unregister, active) is main-loop thread only, and handlers
// always run on the main-loop thread.

#include <kaa/inprogress.hpp>

#include <any>
#include <concepts>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace kaa {

class Event;

namespace detail {

/// How an event payload is stored: decayed, with character pointers as std::string.
template <class A>
using event_arg_t = std::conditional_t<std::is_same_v<std::decay_t<A>, const char*> ||
                                           std::is_same_v<std::decay_t<A>, char*>,
                                       std::string, std::decay_t<A>>;

/// A handler's registration (shared by the EventHandler handles and the registry).
struct EventHandlerNode {
    /// Calls the user's callback; returns the InProgress to await, or an empty handle.
    std::function<InProgressBase(const Event&)> callback;
    /// For weak handlers: false once the owner is gone (then the node is unregistered).
    std::function<bool()> alive;
    /// Names to match; empty: every event.
    std::vector<std::string> names;
    /// In the registry.
    bool registered = false;
};

/// Queues `event` for dispatch (any thread).
void event_post(Event event);
/// Appends `node` to the registry (or, if registered, keeps its place); loop thread.
void event_register(const std::shared_ptr<EventHandlerNode>& node);
/// Removes `node` from the registry; loop thread.
void event_unregister(EventHandlerNode* node);

/// Calls a handler; returns what it returned if that is an InProgress (to be awaited), else an
/// empty handle.
template <class F, class... Args>
InProgressBase invoke_event_handler(F& f, Args&&... args) {
    using R = std::invoke_result_t<F&, Args...>;
    if constexpr (std::is_base_of_v<InProgressBase, std::decay_t<R>>) {
        return InProgressBase(std::invoke(f, std::forward<Args>(args)...));
    } else {
        std::invoke(f, std::forward<Args>(args)...);
        return InProgressBase();
    }
}

}  // namespace detail

/// A named event with an optional payload; see the file comment. A copyable value.
class Event {
public:
    /// An event without payload.
    explicit Event(std::string name) : name_(std::move(name)) {}
    /// An event with a payload: one argument is stored as itself, several as a std::tuple.
    template <class A, class... More>
    Event(std::string name, A&& a, More&&... more)
        : name_(std::move(name)), arg_(pack(std::forward<A>(a), std::forward<More>(more)...)) {}
    /// A copy of `other` with its payload replaced (kaa's Event(event, *args)).
    template <class A, class... More>
    Event(const Event& other, A&& a, More&&... more)
        : name_(other.name_), arg_(pack(std::forward<A>(a), std::forward<More>(more)...)) {}

    /// The name (kaa's str(event)).
    const std::string& name() const noexcept { return name_; }
    /// Same as name().
    const std::string& str() const noexcept { return name_; }
    /// The payload: empty, the one argument, or a std::tuple of several.
    const std::any& arg() const noexcept { return arg_; }
    /// Whether the event carries a payload.
    bool has_arg() const noexcept { return arg_.has_value(); }
    /// The payload as a T (a copy). Throws std::bad_any_cast if it is not exactly a T.
    template <class T>
    T arg_as() const {
        return std::any_cast<T>(arg_);
    }
    /// The payload if it is a T, else nullptr.
    template <class T>
    const T* arg_if() const noexcept {
        return std::any_cast<T>(&arg_);
    }
    /// A copy with the payload replaced by `args` (none: no payload).
    template <class... A>
    Event with_args(A&&... args) const {
        Event e(name_);
        e.arg_ = pack(std::forward<A>(args)...);
        return e;
    }

    /// Queues this event for dispatch after the next main-loop step and wakes the loop. Any
    /// thread. Never calls a handler inside the call.
    void post() const { detail::event_post(*this); }
    /// Posts a copy whose payload is `args` (kaa's post(*args)).
    template <class A, class... More>
    void post(A&& a, More&&... more) const {
        detail::event_post(with_args(std::forward<A>(a), std::forward<More>(more)...));
    }

    /// Same name.
    friend bool operator==(const Event& a, const Event& b) noexcept { return a.name_ == b.name_; }
    /// The name equals `name`.
    friend bool operator==(const Event& a, std::string_view name) noexcept {
        return a.name_ == name;
    }
    /// Writes the name.
    friend std::ostream& operator<<(std::ostream& os, const Event& e);

private:
    template <class... A>
    static std::any pack(A&&... args) {
        if constexpr (sizeof...(A) == 0) {
            return std::any();
        } else if constexpr (sizeof...(A) == 1) {
            return std::any(detail::event_arg_t<A>(std::forward<A>(args))...);
        } else {
            return std::any(std::tuple<detail::event_arg_t<A>...>(std::forward<A>(args)...));
        }
    }

    std::string name_;
    std::any arg_;
};

/// Writes the event's name. (Declared here too, not only as a friend, so that a shared libkaa
/// exports it: the friend declaration alone does not carry the header's default visibility.)
std::ostream& operator<<(std::ostream& os, const Event& e);

/// A callback for events, called on the main-loop thread as `callback(const Event&)` for each
/// dispatched event its registration matches; see the file comment for order, awaiting and
/// exceptions. A handle: copies share one registration, and dropping handles does not
/// unregister. Main-loop thread only.
class EventHandler {
public:
    /// A handler for `callback(const Event&)`, which may return void, anything (ignored), or an
    /// InProgress (awaited before the next handler). Not registered yet. `callback` must be
    /// copyable.
    template <class F>
        requires(!std::derived_from<std::decay_t<F>, EventHandler> &&
                 std::invocable<std::decay_t<F>&, const Event&>)
    explicit EventHandler(F callback) : node_(std::make_shared<detail::EventHandlerNode>()) {
        node_->callback = [f = std::move(callback)](const Event& e) mutable -> InProgressBase {
            return detail::invoke_event_handler(f, e);
        };
    }

    /// Registers for the events named in `names` (empty: every event). Appended to the
    /// registry; if already registered, only the names change and it keeps its place. Loop
    /// thread only (debug builds assert it).
    void register_events(std::vector<std::string> names = {}) {
        detail::assert_loop_thread("EventHandler::register_events()");
        node_->names = std::move(names);
        detail::event_register(node_);
    }
    /// Registers for these events (matched by name); `{}` means every event.
    void register_events(std::initializer_list<Event> events) {
        std::vector<std::string> names;
        names.reserve(events.size());
        for (const Event& e : events) names.push_back(e.name());
        register_events(std::move(names));
    }
    /// Removes it from the registry (no-op if not registered). A dispatch in progress does not
    /// call it any more. Loop thread only (debug builds assert it).
    void unregister() {
        detail::assert_loop_thread("EventHandler::unregister()");
        detail::event_unregister(node_.get());
    }
    /// Whether it is registered (a weak handler whose owner died is unregistered at the next
    /// dispatch).
    bool active() const noexcept { return node_->registered; }
    /// The names it is registered for (empty: every event).
    const std::vector<std::string>& events() const noexcept { return node_->names; }
    /// Whether its registration matches `event` (regardless of active()).
    bool matches(const Event& event) const {
        if (node_->names.empty()) return true;
        for (const std::string& n : node_->names) {
            if (event == n) return true;
        }
        return false;
    }

    /// The same registration.
    friend bool operator==(const EventHandler& a, const EventHandler& b) noexcept {
        return a.node_ == b.node_;
    }

protected:
    /// @cond INTERNAL
    EventHandler() : node_(std::make_shared<detail::EventHandlerNode>()) {}
    std::shared_ptr<detail::EventHandlerNode> node_;
    /// @endcond
};

/// An EventHandler that holds its owner weakly: `f(event)` — or, for a member function pointer,
/// `(owner->*f)(event)` — is called while the owner lives; once it is gone the handler is
/// unregistered at the next dispatch and never called. Main-loop thread only.
class WeakEventHandler : public EventHandler {
public:
    /// A weak handler for `owner`.
    template <class O, class F>
    WeakEventHandler(std::weak_ptr<O> owner, F f) {
        node_->alive = [owner] { return !owner.expired(); };
        node_->callback = [owner, f = std::move(f)](const Event& e) mutable -> InProgressBase {
            std::shared_ptr<O> strong = owner.lock();
            if (!strong) return InProgressBase();
            if constexpr (std::is_member_function_pointer_v<F>) {
                return detail::invoke_event_handler(f, strong.get(), e);
            } else {
                return detail::invoke_event_handler(f, e);
            }
        };
    }
    /// As above, from a shared_ptr (held weakly).
    template <class O, class F>
    WeakEventHandler(const std::shared_ptr<O>& owner, F f)
        : WeakEventHandler(std::weak_ptr<O>(owner), std::move(f)) {}
};

}  // namespace kaa

#pragma GCC visibility pop
