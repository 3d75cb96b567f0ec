// kaa::coroutine(options, callable): progress, POLICY_SINGLETON, POLICY_PASS_LAST,
// POLICY_SYNCHRONIZED, groups and per-object state (docs/semantics.md [coro.policy], [coro.call];
// [check.A14]–[check.A19]).

#include <kaa/kaa.hpp>

#include "test_util.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

using Log = std::vector<std::string>;

struct Boom : std::runtime_error {
    Boom() : std::runtime_error("boom") {}
};

/// A class whose coroutine methods are wrapped with policies (kaa: decorated methods).
class Worker {
public:
    explicit Worker(Log* log) : log_(log) {}

    kaa::Coroutine<int> job(std::string name, kaa::InProgress<> gate) {
        log_->push_back(name + " start");
        co_await gate;
        log_->push_back(name + " end");
        co_return static_cast<int>(name.size());
    }
    kaa::Coroutine<int> other_job(std::string name, kaa::InProgress<> gate) {
        return job(std::move(name), std::move(gate));
    }

private:
    Log* log_;
};

}  // namespace

// [check.A14]
TEST(CoroutinePolicy, ProgressPassesFreshStatusFirstAndExposesIt) {
    std::vector<kaa::InProgressStatus*> seen;
    auto with_progress =
        kaa::coroutine({.progress = true},
                       [](kaa::InProgressStatus& status, std::vector<kaa::InProgressStatus*>* seen,
                          kaa::InProgress<> gate) -> kaa::Coroutine<> {
                           seen->push_back(&status);
                           status.set(1, 10);
                           co_await gate;
                           status.update(9);
                       });
    kaa::InProgress<> g1, g2;
    auto c1 = with_progress(&seen, g1);
    auto c2 = with_progress(&seen, g2);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_NE(seen[0], seen[1]);  // fresh per call
    ASSERT_TRUE(c1.progress());
    EXPECT_EQ(c1.progress().get(), seen[0]);
    EXPECT_EQ(c2.progress().get(), seen[1]);
    EXPECT_EQ(c1.progress()->pos(), 1);
    EXPECT_EQ(c1.progress()->max(), 10);
    int changes = 0;
    c1.progress()->connect([&](const kaa::InProgressStatus& s) {
        ++changes;
        EXPECT_EQ(s.pos(), 10);
    });
    g1.finish();
    g2.finish();
    EXPECT_EQ(changes, 1);
    EXPECT_EQ(c1.progress()->pos(), 10);
}

// [check.A14]
TEST(CoroutinePolicy, ProgressGoesAfterTheObjectForMemberFunctions) {
    struct Task {
        int factor = 3;
        kaa::Coroutine<int> run(kaa::InProgressStatus& status, int x) {
            status.set(x);
            co_return (x * factor);
        }
    } task;
    auto run = kaa::coroutine({.progress = true}, &Task::run);
    auto c = run(task, 5);
    EXPECT_EQ(c.result(), 15);
    EXPECT_EQ(c.progress()->pos(), 5);
}

TEST(CoroutinePolicy, CallableNotAcceptingPrefixArgumentsThrowsTypeError) {
    auto no_status = kaa::coroutine({.progress = true},
                                    [](int x) -> kaa::Coroutine<int> { co_return x; });
    EXPECT_THROW(no_status(1), kaa::TypeError);
}

// [check.A15]
TEST(CoroutinePolicy, SingletonReturnsSameInstanceWithoutEnteringFunction) {
    int entered = 0;
    auto single = kaa::coroutine({.policy = kaa::POLICY_SINGLETON},
                                 [](int* entered, kaa::InProgress<> gate) -> kaa::Coroutine<int> {
                                     int n = ++*entered;
                                     co_await gate;
                                     co_return n;
                                 });
    kaa::InProgress<> g1, g2;
    auto a = single(&entered, g1);
    auto b = single(&entered, g2);  // arguments ignored
    EXPECT_EQ(entered, 1);
    EXPECT_EQ(a, b);
    g1.finish();
    EXPECT_EQ(b.result(), 1);
    auto c = single(&entered, g2);  // a new instance after it finished
    EXPECT_EQ(entered, 2);
    EXPECT_NE(c, a);
    g2.finish();
    EXPECT_EQ(c.result(), 2);
}

// [check.A15] / [coro.policy.6]: a call finishing in its eager step is not recorded.
TEST(CoroutinePolicy, SingletonDoesNotRecordSynchronouslyFinishedCall) {
    int entered = 0;
    auto single = kaa::coroutine({.policy = kaa::POLICY_SINGLETON},
                                 [](int* entered) -> kaa::Coroutine<int> { co_return ++*entered; });
    EXPECT_EQ(single(&entered).result(), 1);
    EXPECT_EQ(single(&entered).result(), 2);
}

// [check.A16]
TEST(CoroutinePolicy, PassLastReceivesMostRecentUnfinishedCall) {
    std::vector<kaa::InProgressBase> lasts;
    auto pass = kaa::coroutine({.policy = kaa::POLICY_PASS_LAST},
                               [](kaa::InProgressBase last, std::vector<kaa::InProgressBase>* lasts,
                                  kaa::InProgress<> gate) -> kaa::Coroutine<> {
                                   lasts->push_back(last);
                                   co_await gate;
                               });
    kaa::InProgress<> g1, g2, g3;
    auto c1 = pass(&lasts, g1);
    auto c2 = pass(&lasts, g2);
    auto c3 = pass(&lasts, g3);
    ASSERT_EQ(lasts.size(), 3u);
    EXPECT_FALSE(lasts[0].valid());  // none unfinished: empty
    EXPECT_EQ(lasts[1], c1);
    EXPECT_EQ(lasts[2], c2);
    g3.finish();  // the most recent finishes first
    auto c4 = pass(&lasts, kaa::InProgress<>().finish());
    EXPECT_EQ(lasts[3], c2);
    g1.finish();
    g2.finish();
    auto c5 = pass(&lasts, kaa::InProgress<>().finish());
    EXPECT_FALSE(lasts[4].valid());
    EXPECT_TRUE(c5.finished());
}

// [check.A16]: `last` can be awaited (type-erased) to chain after the previous call.
TEST(CoroutinePolicy, PassLastCanAwaitThePreviousCall) {
    Log log;
    auto chained = kaa::coroutine({.policy = kaa::POLICY_PASS_LAST},
                                  [](const kaa::InProgressBase& last, Log* log, std::string name,
                                     kaa::InProgress<> gate) -> kaa::Coroutine<> {
                                      if (last.valid()) co_await last;
                                      log->push_back(name);
                                      co_await gate;
                                  });
    kaa::InProgress<> g1, g2;
    auto c1 = chained(&log, "1", g1);
    auto c2 = chained(&log, "2", g2);
    EXPECT_EQ(log, (Log{"1"}));
    g1.finish();
    EXPECT_EQ(log, (Log{"1", "2"}));
    g2.finish();
    EXPECT_TRUE(c2.finished());
}

// [check.A14] + [check.A16]: progress first, then last.
TEST(CoroutinePolicy, ProgressAndPassLastTogether) {
    kaa::InProgressBase seen_last;
    auto both = kaa::coroutine({.policy = kaa::POLICY_PASS_LAST, .progress = true},
                               [](kaa::InProgressStatus& status, kaa::InProgressBase last,
                                  kaa::InProgressBase* seen_last,
                                  kaa::InProgress<> gate) -> kaa::Coroutine<> {
                                   status.set(1);
                                   *seen_last = last;
                                   co_await gate;
                               });
    kaa::InProgress<> g1, g2;
    auto c1 = both(&seen_last, g1);
    auto c2 = both(&seen_last, g2);
    EXPECT_EQ(seen_last, c1);
    EXPECT_EQ(c2.progress()->pos(), 1);
    g1.finish();
    g2.finish();
}

// [check.A17]
TEST(CoroutinePolicy, SynchronizedCallsRunStrictlyInCallOrder) {
    Log log;
    auto sync = kaa::coroutine({.policy = kaa::POLICY_SYNCHRONIZED},
                               [](Log* log, std::string name) -> kaa::Coroutine<std::string> {
                                   log->push_back(name + " start");
                                   for (int i = 0; i < 3; ++i) {
                                       co_await kaa::NotFinished;
                                       log->push_back(name + " step");
                                   }
                                   log->push_back(name + " end");
                                   co_return name;
                               });
    auto a = sync(&log, "a");
    auto b = sync(&log, "b");
    auto c = sync(&log, "c");
    EXPECT_EQ(log, (Log{"a start"}));  // later bodies have not started
    kaa::main::loop([&] { return !c.finished(); }, 5s);
    const Log expected{"a start", "a step", "a step", "a step", "a end",
                       "b start", "b step", "b step", "b step", "b end",
                       "c start", "c step", "c step", "c step", "c end"};
    EXPECT_EQ(log, expected);
    EXPECT_EQ(a.result(), "a");
    EXPECT_EQ(b.result(), "b");
    EXPECT_EQ(c.result(), "c");
}

// [check.A18]
TEST(CoroutinePolicy, SynchronizedFailedPredecessorStillLetsNextRun) {
    Log log;
    auto sync = kaa::coroutine({.policy = kaa::POLICY_SYNCHRONIZED},
                               [](Log* log, std::string name, bool fail,
                                  kaa::InProgress<> gate) -> kaa::Coroutine<> {
                                   log->push_back(name + " start");
                                   co_await gate;
                                   if (fail) throw Boom();
                                   log->push_back(name + " end");
                               });
    kaa::InProgress<> g1, g2;
    auto c1 = sync(&log, "1", true, g1);
    auto c2 = sync(&log, "2", false, g2);
    EXPECT_EQ(log, (Log{"1 start"}));
    g1.finish();
    EXPECT_TRUE(c1.failed());
    EXPECT_THROW(c1.result(), Boom);
    EXPECT_EQ(log, (Log{"1 start", "2 start"}));
    g2.finish();
    EXPECT_TRUE(c2.finished());
    EXPECT_FALSE(c2.failed());
}

// [check.A17]: a queued call with an interval keeps it once started.
TEST(CoroutinePolicy, SynchronizedQueuedCallGetsItsInterval) {
    auto sync = kaa::coroutine({.interval = 5ms, .policy = kaa::POLICY_SYNCHRONIZED},
                               [](kaa::InProgress<> gate) -> kaa::Coroutine<> { co_await gate; });
    kaa::InProgress<> g1, g2;
    auto c1 = sync(g1);
    auto c2 = sync(g2);
    EXPECT_EQ(c1.interval(), 5ms);
    EXPECT_EQ(c2.interval(), 5ms);
    g1.finish();
    g2.finish();
    kaa::main::loop([&] { return !c2.finished(); }, 5s);
    EXPECT_TRUE(c2.finished());
}

// [check.A19]
TEST(CoroutinePolicy, MemberFunctionPolicyStateIsPerObject) {
    Log log;
    Worker w1(&log), w2(&log);
    auto job = kaa::coroutine({.policy = kaa::POLICY_SYNCHRONIZED}, &Worker::job);
    kaa::InProgress<> g1, g2, g3;
    auto a = job(w1, "w1-a", g1);
    auto b = job(&w2, "w2-a", g2);           // another object: not queued behind w1
    auto c = job(std::ref(w1), "w1-b", g3);  // same object: queued
    EXPECT_EQ(log, (Log{"w1-a start", "w2-a start"}));
    g1.finish();
    EXPECT_EQ(log, (Log{"w1-a start", "w2-a start", "w1-a end", "w1-b start"}));
    g2.finish();
    g3.finish();
    EXPECT_TRUE(c.finished());
}

// [check.A19]
TEST(CoroutinePolicy, MemberFunctionPolicyStateThroughSmartPointer) {
    Log log;
    auto w = std::make_shared<Worker>(&log);
    auto single = kaa::coroutine({.policy = kaa::POLICY_SINGLETON}, &Worker::job);
    kaa::InProgress<> g;
    auto a = single(w, "a", g);
    auto b = single(*w, "b", g);  // same object through a reference
    EXPECT_EQ(a, b);
    g.finish();
    EXPECT_EQ(a.result(), 1);
}

// [check.A19]
TEST(CoroutinePolicy, GroupSharesStateBetweenWrappersOfSameObjectOnly) {
    Log log;
    Worker w1(&log), w2(&log);
    auto job = kaa::coroutine({.policy = kaa::POLICY_SYNCHRONIZED, .group = "jobs"}, &Worker::job);
    auto other = kaa::coroutine({.policy = kaa::POLICY_SYNCHRONIZED, .group = "jobs"},
                                &Worker::other_job);
    kaa::InProgress<> g1, g2, g3;
    auto a = job(w1, "w1-job", g1);
    auto b = other(w1, "w1-other", g2);  // same object, same group: queued
    auto c = other(w2, "w2-other", g3);  // other object: runs at once
    EXPECT_EQ(log, (Log{"w1-job start", "w2-other start"}));
    g1.finish();
    EXPECT_EQ(log.back(), "w1-other start");
    g2.finish();
    g3.finish();
    EXPECT_TRUE(b.finished());
    EXPECT_TRUE(c.finished());
}

// [check.A19]
TEST(CoroutinePolicy, WrappersWithoutGroupDoNotShareState) {
    Log log;
    Worker w(&log);
    auto job = kaa::coroutine({.policy = kaa::POLICY_SYNCHRONIZED}, &Worker::job);
    auto other = kaa::coroutine({.policy = kaa::POLICY_SYNCHRONIZED}, &Worker::other_job);
    kaa::InProgress<> g1, g2;
    auto a = job(w, "job", g1);
    auto b = other(w, "other", g2);  // a different wrapper, no group: independent
    EXPECT_EQ(log, (Log{"job start", "other start"}));
    g1.finish();
    g2.finish();
}

// [check.A19]: kaa keeps a plain function's groups on the function itself.
TEST(CoroutinePolicy, PlainFunctionGroupsAreNotSharedBetweenWrappers) {
    int entered = 0;
    auto body = [](int* entered, kaa::InProgress<> gate) -> kaa::Coroutine<> {
        ++*entered;
        co_await gate;
    };
    auto f1 = kaa::coroutine({.policy = kaa::POLICY_SINGLETON, .group = "g"}, body);
    auto f2 = kaa::coroutine({.policy = kaa::POLICY_SINGLETON, .group = "g"}, body);
    kaa::InProgress<> gate;
    auto a = f1(&entered, gate);
    auto b = f2(&entered, gate);
    EXPECT_EQ(entered, 2);
    EXPECT_NE(a, b);
    auto copy = f1;  // a copy of a wrapper is the same decorated function
    EXPECT_EQ(copy(&entered, gate), a);
    gate.finish();
}

TEST(CoroutinePolicy, CapturingLambdaStaysAliveWhileCoroutineRuns) {
    kaa::test::Counted::reset();
    kaa::InProgress<> gate;
    kaa::Coroutine<int> c = [&] {
        kaa::test::Counted captured{42};
        auto wrapper = kaa::coroutine([captured](kaa::InProgress<> gate) -> kaa::Coroutine<int> {
            co_await gate;
            co_return captured.value;  // the lambda object must still exist
        });
        return wrapper(gate);
    }();  // the wrapper is gone
    EXPECT_GE(kaa::test::Counted::alive(), 1);
    gate.finish();
    EXPECT_EQ(c.result(), 42);
    c = kaa::detail::Access::make<kaa::Coroutine<int>>(kaa::InProgress<int>().finish(0),
                                                       kaa::detail::adopt_coroutine);
    EXPECT_EQ(kaa::test::Counted::alive(), 0);
}

TEST(CoroutinePolicy, PolicyStateIsForgottenWhenCallsEnd) {
    // A singleton whose instance ended by abort starts anew.
    int entered = 0;
    auto single = kaa::coroutine({.policy = kaa::POLICY_SINGLETON},
                                 [](int* entered) -> kaa::Coroutine<> {
                                     ++*entered;
                                     co_await kaa::delay(1h);
                                 });
    auto a = single(&entered);
    EXPECT_THROW(a.abort(), kaa::InProgressAborted);
    auto b = single(&entered);
    EXPECT_EQ(entered, 2);
    EXPECT_NE(a, b);
    EXPECT_THROW(b.abort(), kaa::InProgressAborted);
}

// Policy scopes are told apart by object, wrapper and group name (written-out comparisons
// that also work with libc++ 14, where a defaulted <=> over std::string is deleted).
TEST(CoroutinePolicy, GroupsOfOneObjectWithDifferentNamesDoNotShareState) {
    Log log;
    Worker w(&log);
    auto job = kaa::coroutine({.policy = kaa::POLICY_SYNCHRONIZED, .group = "a"}, &Worker::job);
    auto other = kaa::coroutine({.policy = kaa::POLICY_SYNCHRONIZED, .group = "b"},
                                &Worker::other_job);
    kaa::InProgress<> g1, g2;
    auto a = job(w, "a", g1);
    auto b = other(w, "b", g2);  // same object, another group: runs at once
    EXPECT_EQ(log, (Log{"a start", "b start"}));
    g1.finish();
    g2.finish();
}

TEST(CoroutinePolicy, PolicyKeysAreOrderedByObjectWrapperThenGroup) {
    int x = 0, y = 0;
    using Key = kaa::detail::PolicyKey;
    const Key a{&x, nullptr, "g"}, a2{&x, nullptr, "g"}, b{&x, nullptr, "h"}, c{&x, &y, ""};
    EXPECT_TRUE(a == a2);
    EXPECT_FALSE(a < a2 || a2 < a);
    EXPECT_FALSE(a == b);
    EXPECT_TRUE(a < b);
    EXPECT_FALSE(b < a);
    EXPECT_TRUE(a < c && b < c);  // the wrapper decides before the group
    const Key other{&y, nullptr, "g"};
    EXPECT_NE(a < other, other < a);  // unrelated objects are ordered too
}

// [coro.policy.5]: a queued SYNCHRONIZED call is chained to its predecessor as a listener added
// at call time (kaa's connect_both): listeners connected to call 1 before call 2 was made run
// before call 2's body starts; those connected later run after it started.
TEST(CoroutinePolicy, SynchronizedListenersOfCallOneRunBeforeCallTwoStarts) {
    Log log;
    auto sync =
        kaa::coroutine({.policy = kaa::POLICY_SYNCHRONIZED},
                       [](Log* log, std::string name, kaa::InProgress<> gate) -> kaa::Coroutine<> {
                           log->push_back(name + " start");
                           co_await gate;
                           log->push_back(name + " end");
                       });
    kaa::InProgress<> g1, g2;
    auto c1 = sync(&log, "1", g1);
    c1.connect([&] { log.push_back("listener of 1"); });
    auto c2 = sync(&log, "2", g2);
    c1.connect([&] { log.push_back("later listener of 1"); });
    g1.finish();
    EXPECT_EQ(log, (Log{"1 start", "1 end", "listener of 1", "2 start", "later listener of 1"}));
    g2.finish();
    EXPECT_TRUE(c2.finished());
}
