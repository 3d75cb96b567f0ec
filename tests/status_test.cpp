// Tests for kaa/status.hpp (InProgressStatus): kaa-reference §12 D69 and §2.14.

#include <kaa/status.hpp>

#include <kaa/inprogress.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

// §12 D69: set(pos) with pos > max raises max to pos, and emits the status itself.
TEST(InProgressStatus, SetBeyondMaxRaisesMaxAndEmits) {
    kaa::InProgressStatus status(10);
    std::vector<std::string> seen;
    status.connect([&](const kaa::InProgressStatus& s) {
        EXPECT_EQ(&s, &status);
        seen.push_back(std::to_string(s.pos()) + "/" + std::to_string(s.max()));
    });
    status.set(5);
    status.set(15);
    EXPECT_EQ(status.pos(), 15);
    EXPECT_EQ(status.max(), 15);
    EXPECT_EQ(seen, (std::vector<std::string>{"5/10", "15/15"}));
}

// §12 D69 / §2.14: set() updates max first, then pos; speed is always replaced.
TEST(InProgressStatus, SetUpdatesMaxThenPosAndAlwaysReplacesSpeed) {
    kaa::InProgressStatus status;
    status.set(3, 20, 1.5);
    EXPECT_EQ(status.pos(), 3);
    EXPECT_EQ(status.max(), 20);
    EXPECT_EQ(status.speed(), std::optional<double>(1.5));
    status.set(4);
    EXPECT_EQ(status.max(), 20);
    EXPECT_EQ(status.speed(), std::nullopt);  // not given: cleared
    status.set(std::nullopt, 30);             // max only
    EXPECT_EQ(status.pos(), 4);
    EXPECT_EQ(status.max(), 30);
}

// §2.14: update(diff) is set(pos + diff), and it emits.
TEST(InProgressStatus, UpdateAddsToPosAndEmits) {
    kaa::InProgressStatus status(10);
    int emits = 0;
    status.connect([&](const kaa::InProgressStatus&) { ++emits; });
    status.update();
    status.update(3, 2.0);
    EXPECT_EQ(status.pos(), 4);
    EXPECT_EQ(status.speed(), std::optional<double>(2.0));
    EXPECT_EQ(emits, 2);
    status.update(10);
    EXPECT_EQ(status.max(), 14);
}

// §12 D69: percentage is pos*100/max, 0 when max is 0.
TEST(InProgressStatus, PercentageIsPosOverMaxOrZero) {
    kaa::InProgressStatus empty;
    EXPECT_EQ(empty.percentage(), 0.0);
    kaa::InProgressStatus status(8);
    status.set(2);
    EXPECT_DOUBLE_EQ(status.percentage(), 25.0);
    status.set(8);
    EXPECT_DOUBLE_EQ(status.percentage(), 100.0);
}

// §12 D69: the text bar of kaa ('|' + ('='*n + '>').ljust(width-2) + '|').
TEST(InProgressStatus, ProgressbarMatchesKaa) {
    kaa::InProgressStatus status(10);
    status.set(2);
    EXPECT_EQ(status.get_progressbar(12), "|=>        |");
    status.set(10);
    EXPECT_EQ(status.get_progressbar(12), "|=========>|");
    status.set(0);
    EXPECT_EQ(status.get_progressbar(12), "|>         |");
    EXPECT_EQ(status.get_progressbar().size(), 70u);
    kaa::InProgressStatus unknown;  // max 0: an empty bar (kaa divides by zero)
    EXPECT_EQ(unknown.get_progressbar(6), "|>   |");
    kaa::InProgressStatus negative(10);  // a negative position gives an empty bar, no crash
    negative.set(-3);
    EXPECT_EQ(negative.get_progressbar(6), "|>   |");
}

// §2.14: eta is 0 while pos is 0, and elapsed grows from start_time.
TEST(InProgressStatus, EtaIsZeroUntilProgressIsMade) {
    kaa::InProgressStatus status(10);
    EXPECT_EQ(status.eta(), 0.0);
    EXPECT_GE(status.elapsed(), 0.0);
    status.set(5);
    EXPECT_GE(status.eta(), 0.0);
    EXPECT_LE(status.start_time(), std::chrono::steady_clock::now());
}

// §12 A14 / §2.1: an InProgress carries a status through progress().
TEST(InProgressStatus, AttachesToAnInProgress) {
    kaa::InProgress<int> ip;
    EXPECT_EQ(ip.progress(), nullptr);
    auto status = std::make_shared<kaa::InProgressStatus>(3);
    ip.set_progress(status);
    EXPECT_EQ(ip.progress(), status);
}
