#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// The bridge from signals to InProgress: kaa::inprogress(signal), an InProgress finished at the
// next emission of a Signal, and the bodies of Signals::any() and Signals::all() (declared in
// kaa/signal.hpp), which wait for the next emission of several signals.
//
//   kaa::Signal<std::string> message;
//   kaa::InProgress<std::string> next = kaa::inprogress(message);
//   auto first = signals.any();  // InProgressAny over the next emission of each signal
//
// A header of its own so that kaa/signal.hpp does not depend on InProgress (the layering:
// callable.hpp < signal.hpp < main.hpp < inprogress.hpp < this); <kaa/kaa.hpp> includes it.
//
// Lifetime: the connection behind inprogress(signal) holds the InProgress weakly; it goes when
// it fires, or at the next emit() or count() once the InProgress is gone or finished.
//
// Threads: main-loop thread only, as Signal and InProgress.

#include <kaa/inprogress.hpp>
#include <kaa/inprogress_any.hpp>
#include <kaa/signal.hpp>

#include <concepts>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace kaa {

namespace detail {

/// The connection behind inprogress(signal): finishes the InProgress at the next emission.
/// Holds it weakly, so dropping the InProgress makes the entry dead (and removed).
template <class... Args>
class InProgressSignalEntry final : public SignalEntry<Args...> {
public:
    using result_type = signal_result_t<Args...>;

    explicit InProgressSignalEntry(const InProgress<result_type>& ip)
        : weak_(&detail::Access::state(ip)) {}

    CallOutcome invoke(signal_param_t<Args>... args) override {
        InProgress<result_type> ip = lock();
        if (!ip.valid() || ip.finished()) return CallOutcome::dead;
        if constexpr (sizeof...(Args) == 0) {
            ip.finish();
        } else if constexpr (sizeof...(Args) == 1) {
            ip.finish(args...);
        } else {
            ip.finish(result_type(args...));
        }
        return CallOutcome::keep_going;
    }
    bool alive() const override {
        InProgress<result_type> ip = lock();
        return ip.valid() && !ip.finished();
    }

private:
    InProgress<result_type> lock() const {
        return detail::Access::adopt<InProgress<result_type>>(weak_.lock());
    }

    WeakState weak_;
};

/// Signals::any() returns an InProgressAny (kaa/signal.hpp).
template <>
struct signals_inprogress<InProgressAny> {
    static constexpr bool value = true;
    static constexpr FinishMode default_mode = FINISH_IDX_RESULT;
};
/// Signals::all() returns an InProgressAll (kaa/signal.hpp).
template <>
struct signals_inprogress<InProgressAll> {
    static constexpr bool value = true;
    static constexpr FinishMode default_mode = FINISH_SELF;
};

}  // namespace detail

/// An InProgress finished at the next emission of `signal` with nothing (no arguments), the
/// argument (one), or a std::tuple of them (several). It leaves no connection behind: the
/// connection goes when it fires, and also (at the next emit() or count()) once every handle
/// to the InProgress was dropped or it finished otherwise. A pending emit_deferred() finishes
/// it at once. Main-loop thread only.
template <class... Args>
InProgress<detail::signal_result_t<Args...>> inprogress(Signal<Args...>& signal) {
    static_assert((std::constructible_from<std::decay_t<Args>, detail::signal_param_t<Args>> &&
                   ...),
                  "kaa::inprogress(Signal&): the result stores copies of the emitted arguments, "
                  "so they must be copyable");
    using R = detail::signal_result_t<Args...>;
    InProgress<R> ip;
    signal.add(std::make_shared<detail::InProgressSignalEntry<Args...>>(ip), {.once = true});
    return ip;
}

/// @cond INTERNAL (documented in kaa/signal.hpp)
template <class... Args>
template <class Any>
    requires detail::signals_inprogress<Any>::value Any
    Signals<Args...>::any(FinishMode mode, std::function<bool(const SubResult&)> filter)
const { return InProgressAny(next_emissions(), mode, std::move(filter)); }

template <class... Args>
template <class All>
    requires detail::signals_inprogress<All>::value All Signals<Args...>::all(FinishMode mode)
const { return InProgressAll(next_emissions(), mode); }
/// @endcond

template <class... Args>
std::vector<InProgressBase> Signals<Args...>::next_emissions() const {
    std::vector<InProgressBase> ips;
    for (const auto& entry : entries_) ips.push_back(kaa::inprogress(*entry.second));
    return ips;
}

}  // namespace kaa

#pragma GCC visibility pop
