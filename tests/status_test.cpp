// Tests for kaa/status.hpp (InProgressStatus): docs/semantics.md [check.D69] and [ip.status].

#include <kaa/status.hpp>

#include <kaa/inprogress.hpp>
#include <kaa/main.hpp>
#include <kaa/thread.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

/// Runs the loop until `cond` holds (at most 5 s, so a bug fails instead of hanging).
void run_until(const std::function<bool()>& cond) {
    kaa::main::loop([&] { return !cond(); }, 5s);
}

/// Runs the loop until everything posted to it before this call has run.
void drain_posted() {
    bool marker = false;
    kaa::main::post([&marker] { marker = true; });
    run_until([&] { return marker; });
}

}  // namespace

// [check.D69]: set(pos) with pos > max raises max to pos, and emits the status itself.
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

// [check.D69] / [ip.status.1]: set() updates max first, then pos; speed is always replaced.
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

// [ip.status.1]: update(diff) is set(pos + diff), and it emits.
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

// [check.D69]: percentage is pos*100/max, 0 when max is 0.
TEST(InProgressStatus, PercentageIsPosOverMaxOrZero) {
    kaa::InProgressStatus empty;
    EXPECT_EQ(empty.percentage(), 0.0);
    kaa::InProgressStatus status(8);
    status.set(2);
    EXPECT_DOUBLE_EQ(status.percentage(), 25.0);
    status.set(8);
    EXPECT_DOUBLE_EQ(status.percentage(), 100.0);
}

// [check.D69]: the text bar of kaa ('|' + ('='*n + '>').ljust(width-2) + '|').
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

// [ip.status.2]: eta is 0 while pos is 0, and elapsed grows from start_time.
TEST(InProgressStatus, EtaIsZeroUntilProgressIsMade) {
    kaa::InProgressStatus status(10);
    EXPECT_EQ(status.eta(), 0.0);
    EXPECT_GE(status.elapsed(), 0.0);
    status.set(5);
    EXPECT_GE(status.eta(), 0.0);
    EXPECT_LE(status.start_time(), std::chrono::steady_clock::now());
}

// [check.A14] / [ip.state.3]: an InProgress carries a status through progress().
TEST(InProgressStatus, AttachesToAnInProgress) {
    kaa::InProgress<int> ip;
    EXPECT_EQ(ip.progress(), nullptr);
    auto status = std::make_shared<kaa::InProgressStatus>(3);
    ip.set_progress(status);
    EXPECT_EQ(ip.progress(), status);
}

// ====================================================================== threads

// A worker updates while the loop thread reads: no data race (TSan), and each read is one
// consistent (pos, max): with max unknown every update raises max to pos, so a reader that
// saw pos and max of different updates would see more or less than 100 %.
TEST(InProgressStatus, UpdatesFromWorkerThreadAreRaceFree) {
    ASSERT_TRUE(kaa::main::is_mainthread());  // this thread is the loop thread, not a worker
    constexpr std::int64_t kUpdates = 20000;
    auto status = std::make_shared<kaa::InProgressStatus>();
    std::int64_t last_emitted = -1;
    status->connect([&](const kaa::InProgressStatus& s) { last_emitted = s.pos(); });
    std::atomic<bool> done{false};
    std::thread worker([status, &done] {
        for (std::int64_t i = 0; i < kUpdates; ++i) status->update(1, static_cast<double>(i));
        done = true;
    });
    int reads = 0;
    int inconsistent = 0;
    std::int64_t previous = 0;
    run_until([&] {
        const std::int64_t pos = status->pos();
        if (pos < previous || status->max() < pos) ++inconsistent;
        previous = pos;
        if (pos > 0 && status->percentage() != 100.0) ++inconsistent;
        const std::string bar = status->get_progressbar(12);
        if (pos > 0 && bar != "|=========>|") ++inconsistent;
        (void)status->speed();
        (void)status->eta();
        ++reads;
        return done && last_emitted == kUpdates;
    });
    worker.join();
    EXPECT_GT(reads, 0);
    EXPECT_EQ(inconsistent, 0);
    EXPECT_EQ(status->pos(), kUpdates);
    EXPECT_EQ(status->max(), kUpdates);
    EXPECT_EQ(status->speed(), std::optional<double>(kUpdates - 1));
    EXPECT_EQ(last_emitted, kUpdates);
}

// Two workers updating at once lose no update (update() is one step).
TEST(InProgressStatus, ConcurrentUpdatesFromWorkersAreNotLost) {
    ASSERT_TRUE(kaa::main::is_mainthread());  // this thread is the loop thread, not a worker
    constexpr int kEach = 10000;
    kaa::InProgressStatus status(100);
    auto work = [&status] {
        for (int i = 0; i < kEach; ++i) status.update();
    };
    std::thread a(work), b(work);
    a.join();
    b.join();
    EXPECT_EQ(status.pos(), 2 * kEach);
    EXPECT_EQ(status.max(), 2 * kEach);
    drain_posted();  // the emissions the workers posted (nothing is connected)
}

// The change signal of an update made on a worker fires on the loop thread, not on the worker:
// it is posted, so nothing is called before the loop runs.
TEST(InProgressStatus, SignalOfAWorkerUpdateFiresOnTheLoopThread) {
    ASSERT_TRUE(kaa::main::is_mainthread());  // this thread is the loop thread, not a worker
    kaa::InProgressStatus status(10);
    std::vector<std::thread::id> threads;
    std::vector<std::int64_t> seen;
    status.connect([&](const kaa::InProgressStatus& s) {
        threads.push_back(std::this_thread::get_id());
        seen.push_back(s.pos());
    });
    std::thread worker([&status] { status.set(4); });
    worker.join();
    EXPECT_TRUE(seen.empty());   // posted, not called on the worker
    EXPECT_EQ(status.pos(), 4);  // the value itself is there at once
    run_until([&] { return !seen.empty(); });
    EXPECT_EQ(seen, (std::vector<std::int64_t>{4}));
    EXPECT_EQ(threads, (std::vector<std::thread::id>{std::this_thread::get_id()}));
}

// Worker updates made before the loop gets to the posted emission are reported by that one
// emission, which reads the current values.
TEST(InProgressStatus, WorkerUpdatesPendingTogetherAreReportedByOneEmission) {
    ASSERT_TRUE(kaa::main::is_mainthread());  // this thread is the loop thread, not a worker
    kaa::InProgressStatus status;
    std::vector<std::int64_t> seen;
    status.connect([&](const kaa::InProgressStatus& s) { seen.push_back(s.pos()); });
    std::thread worker([&status] {
        status.update();
        status.update();
        status.set(std::nullopt, 10);
    });
    worker.join();
    drain_posted();
    EXPECT_EQ(seen, (std::vector<std::int64_t>{2}));
    EXPECT_EQ(status.max(), 10);

    std::thread again([&status] { status.update(); });  // a later update posts anew
    again.join();
    drain_posted();
    EXPECT_EQ(seen, (std::vector<std::int64_t>{2, 3}));
}

// A status destroyed before the emission a worker posted for it runs: that emission does
// nothing (no dangling access).
TEST(InProgressStatus, DestroyedBeforeItsPostedEmissionRunsIsNotEmitted) {
    ASSERT_TRUE(kaa::main::is_mainthread());  // this thread is the loop thread, not a worker
    int calls = 0;
    auto status = std::make_unique<kaa::InProgressStatus>(5);
    status->connect([&](const kaa::InProgressStatus&) { ++calls; });
    std::thread worker([s = status.get()] { s->update(); });
    worker.join();
    status.reset();
    drain_posted();
    EXPECT_EQ(calls, 0);
}

// A threaded call with progress: the loop sees its progress while it still runs.
TEST(InProgressStatus, LoopSeesProgressOfARunningThreadedCall) {
    ASSERT_TRUE(kaa::main::is_mainthread());  // this thread is the loop thread, not a worker
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    auto job = kaa::threaded({.progress = true}, [released](kaa::InProgressStatus& s) {
        s.set(1, 2);
        released.wait();
        s.update();
        return 0;
    });
    auto ip = job();
    std::vector<std::int64_t> seen;
    std::vector<std::thread::id> threads;
    ip.progress()->connect([&](const kaa::InProgressStatus& s) {
        seen.push_back(s.pos());
        threads.push_back(std::this_thread::get_id());
    });
    run_until([&] { return !seen.empty(); });
    EXPECT_FALSE(ip.finished());
    EXPECT_EQ(seen, (std::vector<std::int64_t>{1}));
    EXPECT_EQ(ip.progress()->percentage(), 50.0);
    release.set_value();
    EXPECT_EQ(ip.wait(), 0);
    run_until([&] { return seen.size() == 2; });
    EXPECT_EQ(seen, (std::vector<std::int64_t>{1, 2}));
    EXPECT_EQ(threads, (std::vector<std::thread::id>(2, std::this_thread::get_id())));
}
