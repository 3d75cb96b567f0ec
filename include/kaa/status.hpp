#pragma once
// InProgressStatus: the progress of a long operation (position, maximum, speed), a signal that
// is emitted with itself on every change, and a text progress bar.
//
// Coroutines and threaded functions created with `progress` get a fresh one per call, passed as
// their first argument and reachable from the returned InProgress's progress().
//
// Threads: not synchronized; update it from one thread (listeners run on the updating thread).

#include <kaa/signal.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace kaa {

/// Progress of one operation; a signal emitted with itself on every set()/update().
class InProgressStatus {
public:
    /// A status at position 0 of `max` (0: unknown), started now.
    explicit InProgressStatus(std::int64_t max = 0);
    InProgressStatus(const InProgressStatus&) = delete;
    InProgressStatus& operator=(const InProgressStatus&) = delete;
    virtual ~InProgressStatus() = default;

    /// Updates max, then pos (raising max to pos if pos > max), and always replaces speed
    /// (nullopt clears it); then emits the status.
    void set(std::optional<std::int64_t> pos, std::optional<std::int64_t> max = std::nullopt,
             std::optional<double> speed = std::nullopt);
    /// set(pos + diff, speed).
    void update(std::int64_t diff = 1, std::optional<double> speed = std::nullopt);

    /// Current position.
    std::int64_t pos() const { return pos_; }
    /// Maximum (0: unknown).
    std::int64_t max() const { return max_; }
    /// Speed given with the last set()/update(), if any.
    std::optional<double> speed() const { return speed_; }
    /// When it was constructed.
    std::chrono::steady_clock::time_point start_time() const { return start_; }
    /// pos * 100 / max, or 0 when max is 0.
    double percentage() const;
    /// Seconds since construction.
    double elapsed() const;
    /// Estimated seconds left: elapsed / pos * (max - pos), or 0 while pos is 0.
    double eta() const;
    /// kaa's text bar, `width` characters (at least 3): '|' + ('=' * n + '>') padded to
    /// width - 2 + '|', with n = int(pos / max * (width - 3)) (0 when max is 0). For 2 of 10
    /// at width 12: "|=>        |".
    std::string get_progressbar(int width = 70) const;

    /// Connects `f(const InProgressStatus&, bound...)`, called on every change.
    template <class F, class... Bound>
    Connection connect(F f, Bound... bound) {
        return changed_.connect(std::move(f), std::move(bound)...);
    }
    /// The change signal itself.
    Signal<const InProgressStatus&>& signal() { return changed_; }

private:
    std::chrono::steady_clock::time_point start_;
    std::int64_t pos_ = 0;
    std::int64_t max_ = 0;
    std::optional<double> speed_;
    Signal<const InProgressStatus&> changed_;
};

}  // namespace kaa
