// InProgressAny / InProgressAll: lazy subscription to sub-InProgresses.

#include <kaa/inprogress_any.hpp>

#include <stdexcept>
#include <string>

namespace kaa {

namespace {

const char* mode_name(FinishMode m) {
    switch (m) {
        case FinishMode::idx_result:
            return "FINISH_IDX_RESULT";
        case FinishMode::result:
            return "FINISH_RESULT";
        case FinishMode::idx:
            return "FINISH_IDX";
        case FinishMode::self:
            return "FINISH_SELF";
    }
    return "?";
}

void check_mode(FinishMode m) {
    switch (m) {
        case FinishMode::idx_result:
        case FinishMode::result:
        case FinishMode::idx:
        case FinishMode::self:
            return;
    }
    throw std::invalid_argument("kaa: invalid finish mode for InProgressAny/InProgressAll");
}

/// Shared by Any and All: the sub-InProgresses and the lazy (un)subscription to them.
///
/// States: unsubscribed (no result listener on the Any/All: no links on the items) → subscribed
/// (one link per unfinished item, links_[i] names it) → finished (no links; the value is stored).
/// Items that finish while unsubscribed are picked up when the next listener subscribes
/// (on_subscribe()), so an Any/All connected late still finishes (docs/semantics.md [ip.all.3]).
template <class R>
class MultiState : public detail::State<R> {
public:
    explicit MultiState(std::vector<InProgressBase> items, FinishMode mode)
        : items_(std::move(items)), links_(items_.size()), mode_(mode) {
        this->watches_listeners_ = true;
    }
    /// A subscribed Any/All that goes away takes its links with it.
    ~MultiState() override { unsubscribe(); }

protected:
    /// A subscribed sub-InProgress finished.
    virtual void on_item(std::size_t index) = 0;
    /// Called when subscribing, before the links are made: takes account of items that
    /// finished meanwhile (it may finish the Any/All).
    virtual void on_subscribe() = 0;

    void on_listeners_changed() override {
        if (this->finished()) {
            // Finished by abort(), throw_exception() or finish() from outside (called before
            // its listeners run): let go of the items as when it finishes itself ([ip.any.6]).
            if (subscribed_) unsubscribe();
            return;
        }
        const bool want = this->result_listener_count() > 0;
        if (want && !subscribed_) {
            subscribe();
        } else if (!want && subscribed_) {
            unsubscribe();
        }
    }

    void subscribe() {
        subscribed_ = true;
        on_subscribe();
        detail::WeakState weak(this);
        for (std::size_t i = 0; i < items_.size() && subscribed_ && !this->finished(); ++i) {
            if (items_[i].finished()) continue;
            links_[i] = connect_item(items_[i], weak, i);
        }
        // An item may finish before its turn, while the links are made (the same lazy Any/All
        // twice, or one that another item's subscription finishes): it got no link, so take
        // account of it now, as of those that finished before subscribing.
        if (subscribed_ && !this->finished()) on_subscribe();
    }

    void unsubscribe() noexcept {
        subscribed_ = false;
        for (std::size_t i = 0; i < items_.size(); ++i) {
            if (links_[i].value) {
                // Also when the item finished: its dispatch may not have reached our link yet.
                detail::Access::state(items_[i]).remove_listener(links_[i].value);
                links_[i] = {};
            }
        }
    }

    InProgressBase self_handle() { return detail::Access::share<InProgressBase>(this); }
    SubResult make(std::size_t i, FinishMode mode) {
        return detail::Access::make<SubResult>(mode, i, items_[i], self_handle());
    }
    /// The Any/All takes a failed item's exception on (its result carries it): handled.
    void take_failure(std::size_t i) {
        if (items_[i].failed()) detail::Access::state(items_[i]).handled_ = true;
    }

    std::vector<InProgressBase> items_;
    std::vector<ListenerId> links_;
    FinishMode mode_;
    bool subscribed_ = false;

private:
    // A listener on a sub-InProgress; it holds the Any/All weakly (no cycle).
    static ListenerId connect_item(InProgressBase& item, const detail::WeakState& weak,
                                   std::size_t i) {
        auto* l = new detail::FnListener(
            [weak, i](detail::StateBase&) -> bool {
                detail::StateRef multi(weak.lock(), /*adopt=*/true);
                if (!multi) return true;
                auto* self = static_cast<MultiState*>(multi.get());
                if (self->finished()) return true;
                self->links_[i] = {};
                self->on_item(i);
                return true;  // take_failure() marks it handled when it is taken on
            },
            detail::ListenKind::both);
        l->id = detail::next_listener_id();
        ListenerId id{l->id};
        detail::Access::state(item).add_listener(l);
        return id;
    }

protected:
    void destroy() noexcept override { delete this; }
};

class AnyState final : public MultiState<SubResult> {
public:
    std::string describe() const override {
        return "InProgressAny of " + std::to_string(items_.size());
    }
    AnyState(std::vector<InProgressBase> items, FinishMode mode,
             std::function<bool(const SubResult&)> filter)
        : MultiState(std::move(items), mode), offered_(items_.size(), false),
          filter_(std::move(filter)) {
        // kaa: the counter starts at len(objects) or 1, so an empty Any never finishes.
        remaining_ = items_.empty() ? 1 : items_.size();
    }

    /// Offers the sub-InProgresses that finished and were not offered yet, in index order
    /// (at construction: kaa's prefinished check, even without a listener).
    void offer_finished() {
        for (std::size_t i = 0; i < items_.size() && !finished(); ++i) {
            if (!offered_[i] && items_[i].finished()) offer(i);
        }
    }

private:
    void on_subscribe() override { offer_finished(); }
    void on_item(std::size_t i) override {
        if (!finished() && !offered_[i]) offer(i);
    }

    void offer(std::size_t i) {
        offered_[i] = true;
        --remaining_;
        SubResult r = make(i, mode_);
        if (remaining_ > 0 && filter_ && filter_(r)) return;
        unsubscribe();
        take_failure(i);
        // Let go of the others: the result keeps the one that finished (kaa: signals passed
        // in are disconnected once the Any finishes).
        std::vector<InProgressBase> others = std::move(items_);
        items_.clear();
        links_.clear();
        succeed(std::move(r));
    }

    std::vector<bool> offered_;
    std::function<bool(const SubResult&)> filter_;
    std::size_t remaining_;
};

class AllState final : public MultiState<AllResult> {
public:
    std::string describe() const override {
        return "InProgressAll of " + std::to_string(items_.size());
    }
    AllState(std::vector<InProgressBase> items, FinishMode mode)
        : MultiState(std::move(items), mode) {}

    /// At construction: an All whose items all finished (or that has none) finishes at once.
    void recount() {
        remaining_ = 0;
        for (auto& item : items_) remaining_ += item.finished() ? 0 : 1;
        if (remaining_ == 0 && !finished()) finish_all();
    }

private:
    // [ip.all.3]: recount on subscribe, so items that finished while nobody listened count.
    void on_subscribe() override { recount(); }
    void on_item(std::size_t) override {
        if (finished()) return;
        if (remaining_ > 0) --remaining_;
        if (remaining_ == 0) finish_all();
    }
    void finish_all() {
        unsubscribe();
        std::vector<SubResult> results;
        results.reserve(items_.size());
        const FinishMode item_mode = mode_ == FinishMode::self ? FinishMode::idx_result : mode_;
        for (std::size_t i = 0; i < items_.size(); ++i) {
            take_failure(i);
            results.push_back(make(i, item_mode));
        }
        succeed(detail::Access::make<AllResult>(mode_, std::move(results), self_handle()));
    }

    std::size_t remaining_ = 0;
};

}  // namespace

// ---------------------------------------------------------------- results

std::size_t SubResult::index() const {
    if (mode_ == FinishMode::result || mode_ == FinishMode::self) {
        throw std::logic_error(std::string("kaa: no index in a ") + mode_name(mode_) + " result");
    }
    return index_;
}

void SubResult::require_result() const {
    if (mode_ == FinishMode::idx || mode_ == FinishMode::self) {
        throw std::logic_error(std::string("kaa: no sub-result in a ") + mode_name(mode_) +
                               " result");
    }
}

bool SubResult::failed() const {
    require_result();
    return source_.failed();
}

std::exception_ptr SubResult::exception() const {
    require_result();
    return source_.exception();
}

InProgressBase SubResult::inprogress() const {
    require_result();
    return source_;
}

InProgressBase SubResult::self() const {
    if (mode_ != FinishMode::self) {
        throw std::logic_error(std::string("kaa: no self in a ") + mode_name(mode_) + " result");
    }
    return detail::Access::adopt<InProgressBase>(self_.lock());
}

InProgressBase AllResult::self() const {
    if (mode_ != FinishMode::self) {
        throw std::logic_error(std::string("kaa: no self in a ") + mode_name(mode_) + " result");
    }
    return detail::Access::adopt<InProgressBase>(self_.lock());
}

// ---------------------------------------------------------------- constructors

InProgressAny::InProgressAny(InProgressList items, FinishMode mode,
                             std::function<bool(const SubResult&)> filter)
    : InProgress<SubResult>(nullptr) {
    check_mode(mode);
    auto* s = new AnyState(items.items(), mode, std::move(filter));
    s_ = s;
    s->offer_finished();
}

InProgressAll::InProgressAll(InProgressList items, FinishMode mode)
    : InProgress<AllResult>(nullptr) {
    check_mode(mode);
    auto* s = new AllState(items.items(), mode);
    s_ = s;
    s->recount();
}

}  // namespace kaa
