#pragma once
// Shared helpers for kaa's tests (header-only, test code only).
//
//   kaa::test::ReportCapture — RAII: while alive, every report_exception() call is recorded
//       instead of printed; the previous handler is restored on destruction.
//   kaa::test::Counted       — a value type that counts its live instances (like cppcoro's
//       test/counted.hpp), to prove that InProgress values, callbacks and frames are destroyed.
//
// Threads: ReportCapture may be called from any thread (the handler runs where the last handle
// of an InProgress dies), so it records under a mutex and its accessors return copies.
// Counted's counters are atomics and may be read from any thread.
//
// API (keep it small and stable; other test files rely on it):
//   ReportCapture cap;  cap.count();  cap.contexts();  cap.messages();  cap.clear();
//   Counted::reset();  Counted::alive();  Counted::constructed();  Counted::destroyed();
//   Counted c{7};  c.value;

#include <kaa/errors.hpp>

#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kaa::test {

/// The message of the std::runtime_error `f` throws, or "" if it throws none.
template <class F>
std::string runtime_error_of(F f) {
    try {
        f();
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

/// Records report_exception() calls while alive; restores the previous handler when destroyed.
/// messages() are kaa::describe_exception() strings: "TypeName: message".
class ReportCapture {
public:
    /// Installs the recording handler.
    ReportCapture()
        : previous_(kaa::set_unhandled_exception_handler(
              [this](std::exception_ptr e, std::string_view context) {
                  std::string text = kaa::describe_exception(e);
                  std::lock_guard lock(mutex_);
                  contexts_.emplace_back(context);
                  messages_.push_back(std::move(text));
              })) {}
    /// Restores the handler that was installed before.
    ~ReportCapture() { kaa::set_unhandled_exception_handler(std::move(previous_)); }
    ReportCapture(const ReportCapture&) = delete;
    ReportCapture& operator=(const ReportCapture&) = delete;

    /// Number of reports recorded so far.
    std::size_t count() const {
        std::lock_guard lock(mutex_);
        return messages_.size();
    }
    /// The context strings ("Unhandled InProgress exception", …), in report order.
    std::vector<std::string> contexts() const {
        std::lock_guard lock(mutex_);
        return contexts_;
    }
    /// describe_exception() of each report ("std::runtime_error: boom"), in report order.
    std::vector<std::string> messages() const {
        std::lock_guard lock(mutex_);
        return messages_;
    }
    /// Forgets everything recorded so far.
    void clear() {
        std::lock_guard lock(mutex_);
        contexts_.clear();
        messages_.clear();
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::string> contexts_;
    std::vector<std::string> messages_;
    kaa::UnhandledExceptionHandler previous_;
};

/// A copyable, movable value that counts live instances. Call Counted::reset() at the start of
/// a test; check Counted::alive() == 0 at the end.
struct Counted {
    /// Resets all counters to zero.
    static void reset() {
        constructed_.store(0);
        destroyed_.store(0);
    }
    /// Instances constructed (default, value, copy or move) since reset().
    static long constructed() { return constructed_.load(); }
    /// Instances destroyed since reset().
    static long destroyed() { return destroyed_.load(); }
    /// constructed() - destroyed().
    static long alive() { return constructed() - destroyed(); }

    /// A counted instance carrying `v`.
    explicit Counted(int v = 0) : value(v) { ++constructed_; }
    /// Counts the copy.
    Counted(const Counted& o) : value(o.value) { ++constructed_; }
    /// Counts the moved-to instance (the moved-from one stays alive until destroyed).
    Counted(Counted&& o) noexcept : value(o.value) { ++constructed_; }
    Counted& operator=(const Counted&) = default;
    Counted& operator=(Counted&&) noexcept = default;
    ~Counted() { ++destroyed_; }

    int value;

private:
    static inline std::atomic<long> constructed_{0};
    static inline std::atomic<long> destroyed_{0};
};

}  // namespace kaa::test
