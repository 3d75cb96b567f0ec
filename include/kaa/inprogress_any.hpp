#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// InProgressAny and InProgressAll: one InProgress over several.
//
//   kaa::InProgressAny any({kaa::delay(5s), kaa::threaded(fetch)(url)});
//   auto r = co_await any;  // g++ 12 rejects a braced list inside co_await: name it first
//   if (r.index() == 0) { /* timed out */ }
//
// InProgressAny finishes when the first of its sub-InProgresses finishes (a failed one counts:
// the Any still *succeeds*, and the result carries the exception). InProgressAll finishes when
// all have finished; it never fails either.
//
// Both subscribe to their sub-InProgresses lazily — only while something listens to them
// (a callback, an awaiting coroutine, wait()) — and unsubscribe from all of them when they
// finish (docs/semantics.md [ip.any.6]) or when their last listener disconnects. Sub-InProgresses
// already finished at construction are taken into account at once: an Any with one finishes
// immediately (inside the constructor, even without a listener); an All whose items all finished
// finishes immediately too. Items that finish while nobody listens are picked up when the next
// listener connects: an All recounts ([ip.all.3]) and an Any offers them in index order (a C++
// decision: kaa's Any would miss them). Nested lists are flattened; indexes refer to the
// flattened order. `InProgressAny()` with no items never finishes; `InProgressAll()` finishes
// at once with itself.
//
// Failures: a failed sub-InProgress does not fail the Any/All; its SubResult carries the
// exception (failed(), exception(), result<T>() rethrows). A failure the Any/All takes on this
// way counts as handled (it is not reported as unhandled); one it ignores (filtered out, or
// finishing after the Any finished) is not.
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

/// What InProgressAny and InProgressAll finish with (kaa's finish=…). Any other value (e.g. a
/// cast integer) makes their constructors throw std::invalid_argument.
enum class FinishMode {
    idx_result,  ///< index and sub-result (Any's default)
    result,      ///< sub-result only
    idx,         ///< index only
    self,        ///< the Any/All itself (All's default)
};
/// kaa's FINISH_IDX_RESULT: index and sub-result (Any's default).
inline constexpr FinishMode FINISH_IDX_RESULT = FinishMode::idx_result;
/// kaa's FINISH_RESULT: the sub-result only.
inline constexpr FinishMode FINISH_RESULT = FinishMode::result;
/// kaa's FINISH_IDX: the index only.
inline constexpr FinishMode FINISH_IDX = FinishMode::idx;
/// kaa's FINISH_SELF: the Any/All itself (All's default).
inline constexpr FinishMode FINISH_SELF = FinishMode::self;

/// The outcome of one sub-InProgress: its position, the handle, and its exception if it failed.
/// Only what its mode carries may be read; the rest throws std::logic_error. Holds the
/// sub-InProgress strongly and the Any/All weakly. A value; main-loop thread (like InProgress).
class SubResult {
public:
    /// An empty FINISH_IDX_RESULT result (index 0, no InProgress).
    SubResult() = default;
    /// Position in the flattened list (FINISH_IDX_RESULT, FINISH_IDX).
    std::size_t index() const;
    /// The sub-InProgress's value (FINISH_IDX_RESULT, FINISH_RESULT); rethrows if it failed.
    template <class T>
    decltype(auto) result() const {
        require_result();
        return detail::Access::from_base<InProgress<T>>(source_).result();
    }
    /// Whether the sub-InProgress failed (FINISH_IDX_RESULT, FINISH_RESULT).
    bool failed() const;
    /// Its exception, or null (FINISH_IDX_RESULT, FINISH_RESULT).
    std::exception_ptr exception() const;
    /// The sub-InProgress itself (FINISH_IDX_RESULT, FINISH_RESULT).
    InProgressBase inprogress() const;
    /// The Any/All that finished (FINISH_SELF); empty once it is gone.
    InProgressBase self() const;
    /// The mode it was made for.
    FinishMode mode() const { return mode_; }

private:
    friend struct detail::Access;

    /// Built by InProgressAny/All.
    SubResult(FinishMode mode, std::size_t index, InProgressBase source, const InProgressBase& self)
        : mode_(mode), index_(index), source_(std::move(source)),
          self_(self.valid() ? &detail::Access::state(self) : nullptr) {}

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
    /// An empty FINISH_SELF result.
    AllResult() = default;
    /// Number of sub-InProgresses.
    std::size_t size() const { return items_.size(); }
    /// The i-th sub-result (FINISH_SELF: in FINISH_IDX_RESULT form); throws std::out_of_range.
    const SubResult& operator[](std::size_t i) const { return items_.at(i); }
    /// Iteration over the sub-results, in order.
    auto begin() const { return items_.begin(); }
    /// End of the iteration.
    auto end() const { return items_.end(); }
    /// The All itself (FINISH_SELF; other modes throw std::logic_error). Empty once the All
    /// is gone (the result holds it weakly).
    InProgressBase self() const;
    /// The mode of the All.
    FinishMode mode() const { return mode_; }

private:
    friend struct detail::Access;

    /// Built by InProgressAll.
    AllResult(FinishMode mode, std::vector<SubResult> items, const InProgressBase& self)
        : mode_(mode), items_(std::move(items)),
          self_(self.valid() ? &detail::Access::state(self) : nullptr) {}

    FinishMode mode_ = FinishMode::self;
    std::vector<SubResult> items_;
    detail::WeakState self_;  // weak: the result is stored in the All itself
};

/// A list of InProgress handles, flattened from nested lists (kaa's *objects).
class InProgressList {
public:
    /// No items.
    InProgressList() = default;
    /// The items, in order.
    InProgressList(std::initializer_list<InProgressBase> items) : items_(items) {}
    /// The items, in order.
    InProgressList(std::vector<InProgressBase> items) : items_(std::move(items)) {}
    /// The items, in order.
    template <class T>
    InProgressList(const std::vector<InProgress<T>>& items) : items_(items.begin(), items.end()) {}
    /// Nested lists, flattened in order (kaa flattens nested lists, tuples and generators):
    /// `{{a, b}, {c}}` is a, b, c. A single item among lists needs its own braces.
    InProgressList(std::initializer_list<InProgressList> nested) {
        for (const auto& n : nested) items_.insert(items_.end(), n.items_.begin(), n.items_.end());
    }
    /// The flattened items.
    const std::vector<InProgressBase>& items() const { return items_; }
    /// Number of flattened items.
    std::size_t size() const { return items_.size(); }

private:
    std::vector<InProgressBase> items_;
};

/// Finishes when the first sub-InProgress finishes; see the file comment. `filter(result)`
/// returning true ignores that result while other candidates remain (the last is always taken).
class InProgressAny : public InProgress<SubResult> {
public:
    /// An Any over the flattened `items`; finishes inside the constructor if one of them is
    /// already finished (and passes `filter`). Throws std::invalid_argument for an unknown mode.
    explicit InProgressAny(InProgressList items, FinishMode mode = FINISH_IDX_RESULT,
                           std::function<bool(const SubResult&)> filter = {});
};

/// Finishes when every sub-InProgress finished; see the file comment.
class InProgressAll : public InProgress<AllResult> {
public:
    /// An All over the flattened `items`; finishes inside the constructor if there are none or
    /// all of them are finished. Throws std::invalid_argument for an unknown mode.
    explicit InProgressAll(InProgressList items, FinishMode mode = FINISH_SELF);
};

}  // namespace kaa

#pragma GCC visibility pop
