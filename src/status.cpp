// InProgressStatus: position/maximum/speed bookkeeping, the change signal and the text bar.

#include <kaa/detail/state.hpp>
#include <kaa/status.hpp>

#include <atomic>

namespace kaa {

/// Shared by the status and the emissions it posted from other threads, so that an emission
/// that runs after the status was destroyed finds `self` null instead of a dangling pointer.
struct InProgressStatus::Link {
    /// Held by a posted emission while it runs, and by the destructor while it clears `self`
    /// (recursive: a listener may destroy the status it is called for).
    std::recursive_mutex emitting;
    InProgressStatus* self = nullptr;
    /// An emission is posted and has not started yet (later changes need no other one).
    std::atomic<bool> posted{false};
};

InProgressStatus::InProgressStatus(std::int64_t max)
    : start_(std::chrono::steady_clock::now()), max_(max), link_(std::make_shared<Link>()) {
    link_->self = this;
}

InProgressStatus::~InProgressStatus() {
    std::lock_guard lock(link_->emitting);
    link_->self = nullptr;
}

void InProgressStatus::set(std::optional<std::int64_t> pos, std::optional<std::int64_t> max,
                           std::optional<double> speed) {
    {
        std::lock_guard lock(mutex_);
        if (max) max_ = *max;
        if (pos) {
            pos_ = *pos;
            if (pos_ > max_) max_ = pos_;
        }
        speed_ = speed;
    }
    changed();
}

void InProgressStatus::update(std::int64_t diff, std::optional<double> speed) {
    {
        std::lock_guard lock(mutex_);
        pos_ += diff;
        if (pos_ > max_) max_ = pos_;
        speed_ = speed;
    }
    changed();
}

void InProgressStatus::changed() {
    if (detail::on_loop_thread()) {
        changed_.emit(*this);
        return;
    }
    // One posted emission at a time: it reads the values when it runs, so it reports every
    // change made before it started. A change made after that posts the next one.
    if (!link_->posted.exchange(true, std::memory_order_acq_rel)) {
        detail::post_to_loop([link = link_] { emit_posted(link); });
    }
}

void InProgressStatus::emit_posted(const std::shared_ptr<Link>& link) {
    std::lock_guard lock(link->emitting);
    link->posted.store(false, std::memory_order_release);
    if (InProgressStatus* self = link->self) self->changed_.emit(*self);
}

std::int64_t InProgressStatus::pos() const {
    std::lock_guard lock(mutex_);
    return pos_;
}

std::int64_t InProgressStatus::max() const {
    std::lock_guard lock(mutex_);
    return max_;
}

std::optional<double> InProgressStatus::speed() const {
    std::lock_guard lock(mutex_);
    return speed_;
}

InProgressStatus::Values InProgressStatus::values() const {
    std::lock_guard lock(mutex_);
    return {pos_, max_};
}

double InProgressStatus::percentage() const {
    const Values v = values();
    return v.max == 0 ? 0.0 : static_cast<double>(v.pos) * 100.0 / static_cast<double>(v.max);
}

double InProgressStatus::elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double InProgressStatus::eta() const {
    const Values v = values();
    if (v.pos == 0) return 0.0;
    return elapsed() / static_cast<double>(v.pos) * static_cast<double>(v.max - v.pos);
}

std::string InProgressStatus::get_progressbar(int width) const {
    const Values v = values();
    if (width < 3) width = 3;
    int n = v.max == 0 ? 0
                       : static_cast<int>(static_cast<double>(v.pos) / static_cast<double>(v.max) *
                                          (width - 3));
    if (n < 0) n = 0;  // a negative position: kaa's '=' * n is empty
    std::string bar(static_cast<std::size_t>(n), '=');
    bar += '>';
    const auto inner = static_cast<std::size_t>(width - 2);
    if (bar.size() < inner) bar.resize(inner, ' ');
    return "|" + bar + "|";
}

}  // namespace kaa
