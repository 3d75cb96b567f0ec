#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// InProgressStatus: the progress of a long operation (position, maximum, speed), a signal that
// is emitted with itself on every change, and a text progress bar.
//
// Coroutines and threaded functions created with `progress` get a fresh one per call, passed as
// their first argument and reachable from the returned InProgress's progress().
//
// Threads: set(), update() and the readers (pos(), max(), speed(), percentage(), eta(),
// get_progressbar()) may be called from any thread: the values are kept under a mutex, so a
// worker may update it while the loop thread reads it; each call sees one whole update (so
// percentage(), eta() and the bar never mix pos and max of two updates). The change signal is
// emitted on the main-loop thread only: set()/update() on the loop thread emit at once; from
// another thread they post one emission to the loop (an update made while one is already
// posted is reported by that emission: listeners read the current values). connect() and
// signal() are main-loop thread only, like every Signal. The status may be destroyed on any
// thread once no thread updates it any more; a posted emission that runs after that does
// nothing, and one that is running delays the destructor until it ends.

#include <kaa/signal.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
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
    virtual ~InProgressStatus();

    /// Updates max, then pos (raising max to pos if pos > max), and always replaces speed
    /// (nullopt clears it), as one step; then emits the status (posted to the loop thread when
    /// called from another thread). Any thread.
    void set(std::optional<std::int64_t> pos, std::optional<std::int64_t> max = std::nullopt,
             std::optional<double> speed = std::nullopt);
    /// set(pos + diff, speed), as one step (concurrent updates are not lost). Any thread.
    void update(std::int64_t diff = 1, std::optional<double> speed = std::nullopt);

    /// Current position.
    std::int64_t pos() const;
    /// Maximum (0: unknown).
    std::int64_t max() const;
    /// Speed given with the last set()/update(), if any.
    std::optional<double> speed() const;
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

    /// Connects `f(const InProgressStatus&, bound...)`, called on the loop thread after every
    /// change. Main-loop thread only.
    template <class F, class... Bound>
    Connection connect(F f, Bound... bound) {
        return changed_.connect(std::move(f), std::move(bound)...);
    }
    /// The change signal itself (main-loop thread only).
    Signal<const InProgressStatus&>& signal() { return changed_; }

private:
    /// What an emission posted from another thread holds (see status.cpp).
    struct Link;
    /// pos and max, read together.
    struct Values {
        std::int64_t pos;
        std::int64_t max;
    };
    Values values() const;
    /// Emits now on the loop thread, else posts one emission there (unless one is posted).
    void changed();
    static void emit_posted(const std::shared_ptr<Link>& link);

    const std::chrono::steady_clock::time_point start_;
    mutable std::mutex mutex_;  ///< guards pos_, max_ and speed_
    std::int64_t pos_ = 0;
    std::int64_t max_ = 0;
    std::optional<double> speed_;
    std::shared_ptr<Link> link_;
    Signal<const InProgressStatus&> changed_;
};

}  // namespace kaa

#pragma GCC visibility pop
