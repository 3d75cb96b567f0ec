// The event manager behind kaa::Event::post() and kaa::EventHandler: queue, registry and the
// dispatching coroutine (kaa's EventManager).
//
// State (loop thread only, never destroyed):
//   queue       — posted events not yet dispatched, in post order.
//   ready       — how many events at the front of `queue` may be dispatched: the queue length
//                 when main::signals().step was last emitted (events posted later wait for the
//                 next step).
//   step        — a once-connection to main::signals().step while events wait; re-made by the
//                 next post() after it fired or after loop shutdown disconnected it.
//   dispatcher  — the dispatching coroutine while it waits for a handler's InProgress (at most
//                 one runs: kaa's POLICY_SYNCHRONIZED handle()).

#include <kaa/coroutine.hpp>
#include <kaa/errors.hpp>
#include <kaa/event.hpp>
#include <kaa/main.hpp>

#include <algorithm>
#include <deque>
#include <optional>
#include <ostream>

namespace kaa {

std::ostream& operator<<(std::ostream& os, const Event& e) { return os << e.name(); }

namespace detail {

namespace {

struct EventManager {
    std::deque<Event> queue;
    std::size_t ready = 0;
    std::vector<std::shared_ptr<EventHandlerNode>> handlers;  // registration order
    Connection step;
    bool dispatching = false;
    std::optional<Coroutine<>> dispatcher;  // set while it is suspended
};

EventManager& manager() {
    static auto* m = new EventManager();  // never destroyed: events may be posted at exit
    return *m;
}

void on_step();

/// Makes sure the next step emission dispatches the queue.
void ensure_step_connection() {
    EventManager& m = manager();
    if (!m.step.connected()) m.step = main::signals().step.connect_once(&on_step);
}

bool matches(const EventHandlerNode& node, const Event& event) {
    if (node.names.empty()) return true;
    return std::any_of(node.names.begin(), node.names.end(),
                       [&](const std::string& n) { return event == n; });
}

/// Dispatches the ready events, one at a time, awaiting handlers that return an InProgress.
Coroutine<> dispatch_events() {
    EventManager& m = manager();
    struct Done {
        EventManager& m;
        ~Done() {
            m.dispatching = false;
            m.dispatcher.reset();  // our own handle: the frame keeps itself alive until its end
            try {
                if (!m.queue.empty()) ensure_step_connection();
            } catch (...) {
                report_exception(std::current_exception(), "Exception in event dispatch");
            }
        }
    } done{m};

    while (m.ready > 0 && !m.queue.empty()) {
        Event event = std::move(m.queue.front());
        m.queue.pop_front();
        --m.ready;
        // Registration order at dispatch time; handlers unregistered meanwhile are skipped.
        std::vector<std::shared_ptr<EventHandlerNode>> handlers = m.handlers;
        for (const auto& node : handlers) {
            if (!node->registered) continue;
            if (node->alive && !node->alive()) {
                event_unregister(node.get());
                continue;
            }
            if (!matches(*node, event)) continue;
            InProgressBase pending;
            try {
                pending = node->callback(event);
            } catch (const BaseException&) {
                throw;  // as out of a Signal emission
            } catch (...) {
                report_exception(std::current_exception(), "Exception in event handler");
                continue;
            }
            if (!pending.valid()) continue;
            bool unwound = false;
            try {
                co_await pending;
            } catch (const InProgressAborted&) {
                // Either the handler's InProgress was aborted (not an error), or this
                // dispatcher was (loop shutdown): then stop, leaving the rest queued.
                unwound = m.dispatcher && !m.dispatcher->active();
            } catch (...) {
                report_exception(std::current_exception(), "Exception in event handler");
            }
            if (unwound) co_return;
        }
    }
}

void on_step() {
    EventManager& m = manager();
    m.ready = m.queue.size();
    if (m.dispatching || m.ready == 0) return;
    m.dispatching = true;
    Coroutine<> co = dispatch_events();
    if (!co.finished()) m.dispatcher = co;
}

void enqueue(Event event) {
    manager().queue.push_back(std::move(event));
    ensure_step_connection();
    main::wakeup();  // docs/semantics.md [event.post.2]: the next iteration must not sleep
}

}  // namespace

void event_post(Event event) {
    if (on_loop_thread()) {
        enqueue(std::move(event));
    } else {
        main::post([event = std::move(event)]() mutable { enqueue(std::move(event)); });
    }
}

void event_register(const std::shared_ptr<EventHandlerNode>& node) {
    if (node->registered) return;
    manager().handlers.push_back(node);
    node->registered = true;
}

void event_unregister(EventHandlerNode* node) {
    if (!node->registered) return;
    auto& v = manager().handlers;
    v.erase(std::remove_if(v.begin(), v.end(), [node](const auto& n) { return n.get() == node; }),
            v.end());
    node->registered = false;
}

}  // namespace detail
}  // namespace kaa
