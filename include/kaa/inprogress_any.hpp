#pragma once
// InProgressAny and InProgressAll: one InProgress over several.
//
//   auto r = co_await kaa::InProgressAny({kaa::delay(5s), sock.read()});
//   if (r.index() == 0) { /* timed out */ }
//
// InProgressAny finishes when the first of its sub-InProgresses finishes (a failed one counts:
// the Any still *succeeds*, and the result carries the exception). InProgressAll finishes when
// all have finished; it never fails either.
//
// Both subscribe to their sub-InProgresses lazily — only while something listens to them
// (a callback, an awaiting coroutine, wait()) — and unsubscribe from all of them when they
// finish (kaa-reference Q5). Sub-InProgresses already finished at construction are taken into
// account at once: an Any with one finishes immediately; an All recounts when its first
// listener connects (Q6). Nested lists are flattened; indexes refer to the flattened order.
//
// Finish modes (kaa's finish=…): the result object records the mode and only offers what that
// mode finishes with — FINISH_IDX_RESULT (default for Any): index() and the sub-result;
// FINISH_RESULT: the sub-result only; FINISH_IDX: index() only; FINISH_SELF (default for All):
// the Any/All itself (self()). Asking for something the mode does not carry throws
// std::logic_error.
//
// Threads: main-loop thread only.

#include <kaa/inprogress.hpp>

#include <cstddef>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <vector>

namespace kaa {

/// What InProgressAny and InProgressAll finish with.
enum class FinishMode { idx_result, result, idx, self };
inline constexpr FinishMode FINISH_IDX_RESULT = FinishMode::idx_result;
inline constexpr FinishMode FINISH_RESULT = FinishMode::result;
inline constexpr FinishMode FINISH_IDX = FinishMode::idx;
inline constexpr FinishMode FINISH_SELF = FinishMode::self;

/// The outcome of one sub-InProgress: its position, the handle, and its exception if it failed.
class SubResult {
public:
    SubResult() = default;
    SubResult(FinishMode mode, std::size_t index, InProgressBase source, const InProgressBase& self)
        : mode_(mode), index_(index), source_(std::move(source)),
          self_(self.valid() ? &self.state() : nullptr) {}

    /// Position in the flattened list (FINISH_IDX_RESULT, FINISH_IDX).
    std::size_t index() const;
    /// The sub-InProgress's value (FINISH_IDX_RESULT, FINISH_RESULT); rethrows if it failed.
    template <class T>
    decltype(auto) result() const {
        require_result();
        return InProgress<T>::from_base(source_).result();
    }
    /// Whether the sub-InProgress failed (FINISH_IDX_RESULT, FINISH_RESULT).
    bool failed() const;
    /// Its exception, or null (FINISH_IDX_RESULT, FINISH_RESULT).
    std::exception_ptr exception() const;
    /// The sub-InProgress itself (FINISH_IDX_RESULT, FINISH_RESULT).
    InProgressBase inprogress() const;
    /// The Any/All that finished (FINISH_SELF).
    InProgressBase self() const;
    FinishMode mode() const { return mode_; }

private:
    void require_result() const;
    FinishMode mode_ = FinishMode::idx_result;
    std::size_t index_ = 0;
    InProgressBase source_;
    detail::WeakState self_;  // weak: the result is stored in the Any itself
};

/// What InProgressAll finishes with: one SubResult per sub-InProgress, in order (FINISH_SELF:
/// `self()` is the All; index into it with operator[] either way).
class AllResult {
public:
    AllResult() = default;
    AllResult(FinishMode mode, std::vector<SubResult> items, const InProgressBase& self)
        : mode_(mode), items_(std::move(items)), self_(self.valid() ? &self.state() : nullptr) {}
    std::size_t size() const { return items_.size(); }
    const SubResult& operator[](std::size_t i) const { return items_.at(i); }
    auto begin() const { return items_.begin(); }
    auto end() const { return items_.end(); }
    /// The All itself (FINISH_SELF).
    InProgressBase self() const;
    FinishMode mode() const { return mode_; }

private:
    FinishMode mode_ = FinishMode::self;
    std::vector<SubResult> items_;
    detail::WeakState self_;  // weak: the result is stored in the All itself
};

/// A list of InProgress handles, flattened from nested lists (kaa's *objects).
class InProgressList {
public:
    InProgressList() = default;
    InProgressList(std::initializer_list<InProgressBase> items) : items_(items) {}
    InProgressList(std::vector<InProgressBase> items) : items_(std::move(items)) {}
    template <class T>
    InProgressList(const std::vector<InProgress<T>>& items) : items_(items.begin(), items.end()) {}
    InProgressList(std::initializer_list<InProgressList> nested) {
        for (const auto& n : nested) items_.insert(items_.end(), n.items_.begin(), n.items_.end());
    }
    const std::vector<InProgressBase>& items() const { return items_; }

private:
    std::vector<InProgressBase> items_;
};

/// Finishes when the first sub-InProgress finishes; see the file comment. `filter(result)`
/// returning true ignores that result while other candidates remain (the last is always taken).
class InProgressAny : public InProgress<SubResult> {
public:
    explicit InProgressAny(InProgressList items, FinishMode mode = FINISH_IDX_RESULT,
                           std::function<bool(const SubResult&)> filter = {});
};

/// Finishes when every sub-InProgress finished; see the file comment.
class InProgressAll : public InProgress<AllResult> {
public:
    explicit InProgressAll(InProgressList items, FinishMode mode = FINISH_SELF);
};

}  // namespace kaa
