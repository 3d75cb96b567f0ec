// InProgressStatus: position/maximum/speed bookkeeping, the change signal and the text bar.

#include <kaa/status.hpp>

namespace kaa {

InProgressStatus::InProgressStatus(std::int64_t max)
    : start_(std::chrono::steady_clock::now()), max_(max) {}

void InProgressStatus::set(std::optional<std::int64_t> pos, std::optional<std::int64_t> max,
                           std::optional<double> speed) {
    if (max) max_ = *max;
    if (pos) {
        pos_ = *pos;
        if (pos_ > max_) max_ = pos_;
    }
    speed_ = speed;
    changed_.emit(*this);
}

void InProgressStatus::update(std::int64_t diff, std::optional<double> speed) {
    set(pos_ + diff, std::nullopt, speed);
}

double InProgressStatus::percentage() const {
    return max_ == 0 ? 0.0 : static_cast<double>(pos_) * 100.0 / static_cast<double>(max_);
}

double InProgressStatus::elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double InProgressStatus::eta() const {
    if (pos_ == 0) return 0.0;
    return elapsed() / static_cast<double>(pos_) * static_cast<double>(max_ - pos_);
}

std::string InProgressStatus::get_progressbar(int width) const {
    if (width < 3) width = 3;
    int n = max_ == 0 ? 0
                      : static_cast<int>(static_cast<double>(pos_) / static_cast<double>(max_) *
                                         (width - 3));
    if (n < 0) n = 0;  // a negative position: kaa's '=' * n is empty
    std::string bar(static_cast<std::size_t>(n), '=');
    bar += '>';
    const auto inner = static_cast<std::size_t>(width - 2);
    if (bar.size() < inner) bar.resize(inner, ' ');
    return "|" + bar + "|";
}

}  // namespace kaa
