// Tests for kaa/inprogress_any.hpp (InProgressAny, InProgressAll, SubResult, AllResult):
// [check.D59]–[check.D68], with the C++ decisions of [ip.any.6], [ip.all.3] and [ip.any.7].

#include <kaa/inprogress_any.hpp>

#include <kaa/coroutine.hpp>
#include <kaa/errors.hpp>
#include <kaa/inprogress.hpp>
#include <kaa/main.hpp>
#include <kaa/timer.hpp>

#include "test_util.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using kaa::test::ReportCapture;

namespace {

struct CustomError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// The value an Any finished with (it must have finished).
kaa::SubResult any_result(const kaa::InProgressAny& any) { return any.result(); }

}  // namespace

// ======================================================= docs/semantics.md [check.D59] prefinished

// [check.D59]: finished inside the constructor, without any listener.
TEST(InProgressAny, FinishesAtConstructionWithAnAlreadyFinishedArgument) {
    kaa::InProgress<int> pending;
    kaa::InProgress<int> done = kaa::InProgress<int>().finish(4);
    kaa::InProgressAny any({pending, done});
    ASSERT_TRUE(any.finished());
    EXPECT_FALSE(any.failed());
    kaa::SubResult r = any_result(any);
    EXPECT_EQ(r.index(), 1u);
    EXPECT_EQ(r.result<int>(), 4);
    EXPECT_EQ(pending.count(), 0u);  // never subscribed
}

// [check.D59]: several prefinished items are offered in index order.
TEST(InProgressAny, PrefinishedItemsAreOfferedInIndexOrder) {
    kaa::InProgress<int> a = kaa::InProgress<int>().finish(1);
    kaa::InProgress<int> b = kaa::InProgress<int>().finish(2);
    kaa::InProgressAny any({a, b});
    EXPECT_EQ(any_result(any).index(), 0u);
}

// ====================================================================== [check.D60] laziness

// [check.D60]: no links on the items until a listener connects; removed when it disconnects.
TEST(InProgressAny, SubscribesOnlyWhileItHasListeners) {
    kaa::InProgress<int> a;
    kaa::InProgress<int> b;
    kaa::InProgressAny any({a, b});
    EXPECT_EQ(a.count(), 0u);
    EXPECT_EQ(b.count(), 0u);
    auto id = any.connect([](const kaa::SubResult&) {});
    EXPECT_EQ(a.count(), 1u);
    EXPECT_EQ(b.count(), 1u);
    auto id2 = any.connect([](const kaa::SubResult&) {});
    EXPECT_EQ(a.count(), 1u);  // one link per item, however many listeners
    EXPECT_TRUE(any.disconnect(id));
    EXPECT_EQ(a.count(), 1u);
    EXPECT_TRUE(any.disconnect(id2));
    EXPECT_EQ(a.count(), 0u);
    EXPECT_EQ(b.count(), 0u);
    any.connect_exception([](std::exception_ptr) {});  // not a result listener: no links
    EXPECT_EQ(a.count(), 0u);
}

// [check.D60]: without a listener an item finishing does not finish the Any …
TEST(InProgressAny, DoesNotFinishWithoutAListener) {
    kaa::InProgress<int> a;
    kaa::InProgress<int> b;
    kaa::InProgressAny any({a, b});
    b.finish(2);
    EXPECT_FALSE(any.finished());
    // … and (C++ decision) the next listener picks the finished item up at once.
    std::size_t index = 99;
    any.connect([&](const kaa::SubResult& r) { index = r.index(); });
    EXPECT_TRUE(any.finished());
    EXPECT_EQ(index, 1u);
    EXPECT_EQ(a.count(), 0u);
}

// [check.D60]: wait() counts as a listener (kaa connects a dummy).
TEST(InProgressAny, WaitSubscribesALazyAny) {
    kaa::InProgress<int> a;
    kaa::InProgressAny any({a});
    kaa::OneShotTimer t([&] {
        EXPECT_EQ(a.count(), 1u);
        a.finish(6);
    });
    t.start(1ms);
    kaa::SubResult r = any.wait(5s);
    EXPECT_EQ(r.index(), 0u);
    EXPECT_EQ(r.result<int>(), 6);
}

// [check.D60] + [check.C50]: a worker's wait() subscribes a lazy Any too (through the loop thread).
TEST(InProgressAny, WaitInAWorkerSubscribesALazyAny) {
    kaa::InProgress<int> a;
    kaa::InProgressAny any({a});
    std::atomic<bool> done{false};
    std::size_t index = 99;
    std::thread worker([any, &done, &index] {
        index = any.wait(5s).index();
        done = true;
        kaa::main::wakeup();
    });
    kaa::OneShotTimer t([&] { a.finish(3); });
    t.start(5ms);
    kaa::main::loop([&] { return !done.load(); }, 5s);
    worker.join();
    EXPECT_EQ(index, 0u);
}

// [check.D60]: wait() with a timeout removes its dummy listener again.
TEST(InProgressAny, WaitTimeoutUnsubscribesAgain) {
    kaa::InProgress<int> a;
    kaa::InProgressAny any({a});
    EXPECT_THROW(any.wait(5ms), kaa::TimeoutException);
    EXPECT_EQ(a.count(), 0u);
}

namespace {
kaa::Coroutine<std::size_t> await_any(kaa::InProgressAny any) {
    kaa::SubResult r = co_await any;
    co_return r.index();
}
}  // namespace

// [check.D60]: an awaiting coroutine counts as a listener.
TEST(InProgressAny, AwaitingCoroutineSubscribesAndIsResumed) {
    kaa::InProgress<int> a;
    kaa::InProgress<int> b;
    kaa::Coroutine<std::size_t> co = await_any(kaa::InProgressAny({a, b}));
    EXPECT_EQ(b.count(), 1u);
    b.finish(1);
    ASSERT_TRUE(co.finished());
    EXPECT_EQ(co.result(), 1u);
    EXPECT_EQ(a.count(), 0u);
}

// Found by fuzz/fuzz_model: an Any whose item finished while nobody listened finishes inside the
// co_await that subscribes it; the body then ran to its end before the call returned and the
// frame dropped its own reference, so the returned handle named a freed frame.
TEST(InProgressAny, CoroutineWhoseFirstAwaitFinishesAsItSubscribes) {
    kaa::InProgress<int> a;
    kaa::InProgress<int> b;
    kaa::InProgressAny any({a, b});
    b.finish(2);  // nobody listens to the Any yet: it stays pending
    ASSERT_FALSE(any.finished());
    kaa::Coroutine<std::size_t> co = await_any(any);
    ASSERT_TRUE(co.finished());
    EXPECT_EQ(co.result(), 1u);
    EXPECT_TRUE(any.finished());
    kaa::Coroutine<std::size_t> copy = co;  // the handle holds a live frame's state
    EXPECT_EQ(copy.result(), 1u);
}

// Found by fuzz/fuzz_model: an Any/All aborted (or failed, or finished) from outside stayed
// linked to its items, which then still counted it as a listener: a coroutine awaiting such an
// item and aborted did not abort it, nor did the loop's shutdown ([ip.any.6]).
TEST(InProgressAny, FinishedFromOutsideLetsGoOfItsItems) {
    kaa::InProgress<int> a;
    kaa::InProgressAll all({a});
    all.connect_abort([](const kaa::InProgressAborted&) {});
    all.connect([](const kaa::AllResult&) {});  // subscribes
    EXPECT_EQ(a.count(), 1u);
    all.abort();
    EXPECT_TRUE(all.failed());
    EXPECT_EQ(a.count(), 0u);

    kaa::InProgress<int> b;
    kaa::InProgressAny any({b});
    any.connect([](const kaa::SubResult&) {});
    EXPECT_EQ(b.count(), 1u);
    any.throw_exception(std::runtime_error("from outside"));
    EXPECT_EQ(b.count(), 0u);
    b.finish(1);  // nothing listens any more
    EXPECT_TRUE(any.failed());
    EXPECT_THROW(any.result(), std::runtime_error);
}

// Found by fuzz/fuzz_model: an item that finished while an Any/All was making its links, before
// its own turn, got no link and was never taken into account: the All (or Any) never finished.
TEST(InProgressAll, ItemFinishingWhileTheLinksAreMadeCounts) {
    kaa::InProgress<int> a;
    kaa::InProgressAny lazy({a});
    a.finish(1);  // nobody listens to `lazy`: it stays pending until something does
    kaa::InProgressAll all({lazy, lazy});
    bool done = false;
    all.connect([&](const kaa::AllResult&) { done = true; });  // links lazy twice
    EXPECT_TRUE(done);
}

TEST(InProgressAny, ItemFinishingWhileTheLinksAreMadeIsOffered) {
    kaa::InProgress<int> e;
    kaa::InProgress<int> d;
    kaa::InProgressAny c({e});
    e.finish(1);
    kaa::InProgressAll a({c, d});  // subscribing a subscribes c, which finishes
    kaa::InProgressAny outer({a, c});
    std::size_t index = 99;
    outer.connect([&](const kaa::SubResult& r) { index = r.index(); });
    EXPECT_EQ(index, 1u);
}

// ====================================================================== [check.D61] modes

// [check.D61]: FINISH_IDX_RESULT (default) carries index and result, not self.
TEST(InProgressAny, DefaultModeCarriesIndexAndResult) {
    kaa::InProgress<int> a;
    kaa::InProgress<int> b;
    kaa::InProgressAny any({a, b});
    any.connect([](const kaa::SubResult&) {});
    b.finish(5);
    kaa::SubResult r = any_result(any);
    EXPECT_EQ(r.mode(), kaa::FINISH_IDX_RESULT);
    EXPECT_EQ(r.index(), 1u);
    EXPECT_EQ(r.result<int>(), 5);
    EXPECT_FALSE(r.failed());
    EXPECT_TRUE(r.inprogress() == b);
    EXPECT_THROW(r.self(), std::logic_error);
}

// [check.D61]: FINISH_RESULT carries the result only.
TEST(InProgressAny, FinishResultModeCarriesOnlyTheResult) {
    kaa::InProgress<int> a;
    kaa::InProgressAny any({a}, kaa::FINISH_RESULT);
    any.connect([](const kaa::SubResult&) {});
    a.finish(7);
    kaa::SubResult r = any_result(any);
    EXPECT_EQ(r.result<int>(), 7);
    EXPECT_THROW(r.index(), std::logic_error);
    EXPECT_THROW(r.self(), std::logic_error);
}

// [check.D61]: FINISH_IDX carries the index only.
TEST(InProgressAny, FinishIdxModeCarriesOnlyTheIndex) {
    kaa::InProgress<int> a;
    kaa::InProgress<int> b;
    kaa::InProgressAny any({a, b}, kaa::FINISH_IDX);
    any.connect([](const kaa::SubResult&) {});
    b.finish(7);
    kaa::SubResult r = any_result(any);
    EXPECT_EQ(r.index(), 1u);
    EXPECT_THROW(r.result<int>(), std::logic_error);
    EXPECT_THROW(r.failed(), std::logic_error);
    EXPECT_THROW(r.self(), std::logic_error);
}

// [check.D61]: FINISH_SELF carries the Any itself.
TEST(InProgressAny, FinishSelfModeCarriesTheAnyItself) {
    kaa::InProgress<int> a;
    kaa::InProgressAny any({a}, kaa::FINISH_SELF);
    any.connect([](const kaa::SubResult&) {});
    a.finish(7);
    kaa::SubResult r = any_result(any);
    EXPECT_TRUE(r.self() == any);
    EXPECT_THROW(r.index(), std::logic_error);
    EXPECT_THROW(r.result<int>(), std::logic_error);
}

// [check.D61]: an unknown mode is rejected (kaa's ValueError).
TEST(InProgressAny, InvalidFinishModeThrowsInvalidArgument) {
    kaa::InProgress<int> a;
    EXPECT_THROW(kaa::InProgressAny({a}, static_cast<kaa::FinishMode>(42)), std::invalid_argument);
    EXPECT_THROW(kaa::InProgressAll({a}, static_cast<kaa::FinishMode>(42)), std::invalid_argument);
    EXPECT_EQ(a.count(), 0u);
}

// ====================================================================== [check.D62] empty

// [check.D62]
TEST(InProgressAny, EmptyAnyNeverFinishes) {
    kaa::InProgressAny any({});
    EXPECT_FALSE(any.finished());
    EXPECT_THROW(any.wait(10ms), kaa::TimeoutException);
    EXPECT_FALSE(any.finished());
}

// [check.D62]
TEST(InProgressAll, EmptyAllFinishesImmediatelyWithItself) {
    kaa::InProgressAll all({});
    ASSERT_TRUE(all.finished());
    const kaa::AllResult& r = all.result();
    EXPECT_EQ(r.size(), 0u);
    EXPECT_TRUE(r.self() == all);
}

// ====================================================================== [check.D63] filter

// [check.D63]: filtered results are ignored while other candidates remain; the last is accepted.
TEST(InProgressAny, FilterIgnoresResultsWhileOtherCandidatesRemain) {
    kaa::InProgress<int> a;
    kaa::InProgress<int> b;
    kaa::InProgress<int> c;
    std::vector<int> offered;
    kaa::InProgressAny any({a, b, c}, kaa::FINISH_IDX_RESULT, [&](const kaa::SubResult& r) {
        offered.push_back(r.result<int>());
        return r.result<int>() < 10;  // true: ignore
    });
    any.connect([](const kaa::SubResult&) {});
    a.finish(1);
    EXPECT_FALSE(any.finished());
    b.finish(2);
    EXPECT_FALSE(any.finished());
    c.finish(3);  // the last candidate is never filtered
    ASSERT_TRUE(any.finished());
    EXPECT_EQ(any_result(any).index(), 2u);
    EXPECT_EQ(offered, (std::vector<int>{1, 2}));
}

// [check.D63]: a result the filter accepts finishes the Any at once.
TEST(InProgressAny, FilterAcceptingAResultFinishesTheAny) {
    kaa::InProgress<int> a;
    kaa::InProgress<int> b;
    kaa::InProgressAny any({a, b}, kaa::FINISH_IDX_RESULT,
                           [](const kaa::SubResult& r) { return r.result<int>() < 10; });
    any.connect([](const kaa::SubResult&) {});
    b.finish(50);
    ASSERT_TRUE(any.finished());
    EXPECT_EQ(any_result(any).index(), 1u);
    EXPECT_EQ(a.count(), 0u);
}

// [check.D63] + [check.D59]: prefinished items go through the filter too.
TEST(InProgressAny, FilterAppliesToPrefinishedItems) {
    kaa::InProgress<int> a = kaa::InProgress<int>().finish(1);
    kaa::InProgress<int> b;
    kaa::InProgressAny any({a, b}, kaa::FINISH_IDX_RESULT,
                           [](const kaa::SubResult& r) { return r.result<int>() < 10; });
    EXPECT_FALSE(any.finished());
    any.connect([](const kaa::SubResult&) {});
    b.finish(2);  // last candidate
    ASSERT_TRUE(any.finished());
    EXPECT_EQ(any_result(any).index(), 1u);
}

// ====================================================================== [check.D64] failure

// [check.D64] ([ip.any.7], [ip.handled.2]): a failed sub-InProgress finishes the Any
// successfully with (index, exception); the failure it took on is not reported.
TEST(InProgressAny, FailedSubInProgressFinishesTheAnySuccessfully) {
    ReportCapture reports;
    {
        kaa::InProgress<int> a;
        kaa::InProgress<int> b;
        kaa::InProgressAny any({a, b});
        any.connect([](const kaa::SubResult&) {});
        b.throw_exception(CustomError("sub failed"));
        ASSERT_TRUE(any.finished());
        EXPECT_FALSE(any.failed());
        kaa::SubResult r = any_result(any);
        EXPECT_EQ(r.index(), 1u);
        EXPECT_TRUE(r.failed());
        ASSERT_TRUE(r.exception());
        EXPECT_THROW(std::rethrow_exception(r.exception()), CustomError);
        EXPECT_THROW(r.result<int>(), CustomError);
    }
    EXPECT_EQ(reports.count(), 0u);  // the Any took the failure on
}

// [check.D64] ([ip.any.7]): the same shape for a sub-InProgress that had failed before construction.
TEST(InProgressAny, PrefailedSubInProgressGivesTheSameShape) {
    ReportCapture reports;
    kaa::InProgress<int> a;
    a.throw_exception(CustomError("prefailed"));
    kaa::InProgressAny any({a});
    ASSERT_TRUE(any.finished());
    kaa::SubResult r = any_result(any);
    EXPECT_EQ(r.index(), 0u);
    EXPECT_TRUE(r.failed());
    EXPECT_THROW(r.result<int>(), CustomError);
}

// ====================================================================== [check.D65] [ip.any.6]

// [check.D65] ([ip.any.6]): after the Any finished it is disconnected from every sub-InProgress, so
// a later finish of another one causes no error and no report.
TEST(InProgressAny, LaterSubFinishAfterTheAnyFinishedCausesNoErrorOrReport) {
    ReportCapture reports;
    kaa::InProgress<int> a;
    kaa::InProgress<int> b;
    kaa::InProgressAny any({a, b});
    int calls = 0;
    any.connect([&](const kaa::SubResult&) { ++calls; });
    a.finish(1);
    EXPECT_EQ(b.count(), 0u);
    EXPECT_NO_THROW(b.finish(2));
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(any_result(any).index(), 0u);
    EXPECT_EQ(reports.count(), 0u);
}

// [check.D65]: the same InProgress twice, finishing once, finishes the Any once.
TEST(InProgressAny, SameInProgressTwiceFinishesOnce) {
    kaa::InProgress<int> a;
    kaa::InProgressAny any({a, a});
    int calls = 0;
    any.connect([&](const kaa::SubResult&) { ++calls; });
    a.finish(1);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(any_result(any).index(), 0u);
}

// ====================================================================== [check.D66] flattening

// [check.D66]: nested lists are flattened; indexes refer to the flattened order.
TEST(InProgressAny, NestedListsAreFlattenedAndIndexedInFlatOrder) {
    kaa::InProgress<int> a;
    kaa::InProgress<int> b;
    kaa::InProgress<int> c;
    kaa::InProgress<int> d;
    kaa::InProgressList list{{a, b}, {c}};
    EXPECT_EQ(list.size(), 3u);
    kaa::InProgressAny any(list);
    any.connect([](const kaa::SubResult&) {});
    c.finish(3);
    EXPECT_EQ(any_result(any).index(), 2u);

    kaa::InProgressAny mixed({{a, b}, {d}});
    mixed.connect([](const kaa::SubResult&) {});
    d.finish(4);
    EXPECT_EQ(any_result(mixed).index(), 2u);

    std::vector<kaa::InProgress<int>> vec{a, b};  // a container (kaa: generators, tuples)
    kaa::InProgressAll all(kaa::InProgressList{vec, {c}});
    EXPECT_EQ(all.count(), 0u);
    a.finish(1);
    b.finish(2);
    ASSERT_TRUE(all.wait(5s).size() == 3u);
    EXPECT_TRUE(all.result()[2].inprogress() == c);
}

// ===================================================================== [check.D67]/[check.D68] All

// [check.D67]: finishes only after every item; the default result is the All itself, indexable
// and iterable, and a failed item does not fail it.
TEST(InProgressAll, FinishesOnlyAfterEverySubInProgress) {
    ReportCapture reports;
    kaa::InProgress<int> a;
    kaa::InProgress<int> b;
    kaa::InProgress<int> c;
    kaa::InProgressAll all({a, b, c});
    int calls = 0;
    all.connect([&](const kaa::AllResult&) { ++calls; });
    a.finish(1);
    b.finish(2);
    EXPECT_FALSE(all.finished());
    c.throw_exception(CustomError("c failed"));
    ASSERT_TRUE(all.finished());
    EXPECT_FALSE(all.failed());
    EXPECT_EQ(calls, 1);
    const kaa::AllResult& r = all.result();
    EXPECT_EQ(r.mode(), kaa::FINISH_SELF);
    EXPECT_TRUE(r.self() == all);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_TRUE(r[0].inprogress() == a);
    EXPECT_EQ(r[1].result<int>(), 2);
    EXPECT_TRUE(r[2].failed());
    EXPECT_THROW(r[2].result<int>(), CustomError);
    std::vector<std::size_t> indexes;
    for (const kaa::SubResult& s : r) indexes.push_back(s.index());
    EXPECT_EQ(indexes, (std::vector<std::size_t>{0, 1, 2}));
    EXPECT_THROW(r[3], std::out_of_range);
}

// [check.D67]: FINISH_RESULT lists the sub-results, including exception info; never fails.
TEST(InProgressAll, FinishResultModeListsSubResultsIncludingExceptions) {
    ReportCapture reports;
    kaa::InProgress<int> a;
    kaa::InProgress<int> b;
    kaa::InProgressAll all({a, b}, kaa::FINISH_RESULT);
    all.connect([](const kaa::AllResult&) {});
    b.throw_exception(CustomError("b failed"));
    a.finish(10);
    ASSERT_TRUE(all.finished());
    EXPECT_FALSE(all.failed());
    const kaa::AllResult& r = all.result();
    EXPECT_EQ(r[0].result<int>(), 10);
    EXPECT_TRUE(r[1].failed());
    EXPECT_THROW(std::rethrow_exception(r[1].exception()), CustomError);
    EXPECT_THROW(r[0].index(), std::logic_error);
    EXPECT_THROW(r.self(), std::logic_error);
}

// [check.D67]: FINISH_IDX and FINISH_IDX_RESULT.
TEST(InProgressAll, IndexModesListIndexes) {
    kaa::InProgress<int> a = kaa::InProgress<int>().finish(1);
    kaa::InProgress<int> b = kaa::InProgress<int>().finish(2);
    kaa::InProgressAll idx({a, b}, kaa::FINISH_IDX);
    ASSERT_TRUE(idx.finished());
    EXPECT_EQ(idx.result()[1].index(), 1u);
    EXPECT_THROW(idx.result()[1].result<int>(), std::logic_error);
    kaa::InProgressAll both({a, b}, kaa::FINISH_IDX_RESULT);
    EXPECT_EQ(both.result()[1].index(), 1u);
    EXPECT_EQ(both.result()[1].result<int>(), 2);
}

// [check.D67]: the same InProgress passed twice is counted twice and works.
TEST(InProgressAll, SameInProgressTwiceIsCountedTwice) {
    kaa::InProgress<int> a;
    kaa::InProgressAll all({a, a});
    all.connect([](const kaa::AllResult&) {});
    EXPECT_EQ(a.count(), 2u);
    a.finish(1);
    ASSERT_TRUE(all.finished());
    EXPECT_EQ(all.result().size(), 2u);
}

// [check.D67]: an All whose items all finished before construction finishes at once.
TEST(InProgressAll, AllPrefinishedFinishesAtConstruction) {
    kaa::InProgress<int> a = kaa::InProgress<int>().finish(1);
    kaa::InProgressAll all({a});
    EXPECT_TRUE(all.finished());
}

// [check.D68] ([ip.all.3]): some items finished at construction, the rest before the first listener.
TEST(InProgressAll, FinishesWhenTheRestFinishedBeforeTheFirstListener) {
    kaa::InProgress<int> a = kaa::InProgress<int>().finish(1);
    kaa::InProgress<int> b;
    kaa::InProgressAll all({a, b});
    EXPECT_FALSE(all.finished());
    b.finish(2);
    EXPECT_FALSE(all.finished());  // lazy: nobody listens yet
    int calls = 0;
    all.connect([&](const kaa::AllResult& r) {
        ++calls;
        EXPECT_EQ(r.size(), 2u);
    });
    EXPECT_TRUE(all.finished());
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(b.count(), 0u);
}

// [check.D68]: the same via wait().
TEST(InProgressAll, WaitFinishesAnAllWhoseItemsFinishedMeanwhile) {
    kaa::InProgress<int> a;
    kaa::InProgressAll all({a});
    a.finish(1);
    EXPECT_EQ(all.wait(5s).size(), 1u);
}

// [check.D60] for All: subscribes lazily and unsubscribes with the last listener.
TEST(InProgressAll, SubscribesOnlyWhileItHasListeners) {
    kaa::InProgress<int> a;
    kaa::InProgress<int> b;
    kaa::InProgressAll all({a, b});
    EXPECT_EQ(a.count(), 0u);
    auto id = all.connect([](const kaa::AllResult&) {});
    EXPECT_EQ(a.count(), 1u);
    a.finish(1);
    EXPECT_TRUE(all.disconnect(id));
    EXPECT_EQ(b.count(), 0u);
    b.finish(2);
    EXPECT_FALSE(all.finished());
    all.connect([](const kaa::AllResult&) {});  // recount: both finished
    EXPECT_TRUE(all.finished());
}

// Lifetime: the items do not keep the Any alive (their links hold it weakly), and dropping
// the Any removes its links.
TEST(InProgressAny, DroppedAnyLeavesNoLinksBehind) {
    kaa::InProgress<int> a;
    {
        kaa::InProgressAny any({a});
        any.connect([](const kaa::SubResult&) {});
        EXPECT_EQ(a.count(), 1u);
    }
    EXPECT_EQ(a.count(), 0u);
    EXPECT_NO_THROW(a.finish(1));
    EXPECT_EQ(a.result(), 1);
}
