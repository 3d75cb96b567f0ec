// Tests for kaa/io_channel.hpp: IOChannel over pipes, socketpairs and a regular file
// (docs/semantics.md [io.channel], [check.H106]–[check.H114]). Test names end with the number
// of the checklist item they prove (kaa-reference §12 H).
//
// The loop is driven by waiting on the InProgress under test (ip.wait(timeout) runs the loop)
// or by main::loop(condition, timeout); "nothing happened" is proved over steps() with a Ticker.

#include <kaa/coroutine.hpp>
#include <kaa/errors.hpp>
#include <kaa/io_channel.hpp>
#include <kaa/main.hpp>

#include "test_util.hpp"

#include <gtest/gtest.h>

#include "loop_util.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

using namespace std::chrono_literals;

namespace {

using kaa::test::steps;
using kaa::test::Ticker;

// A non-blocking pipe; the ends still owned here are closed on destruction.
struct Pipe {
    int r = -1;
    int w = -1;
    Pipe() {
        int fds[2];
        if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
            throw std::system_error(errno, std::generic_category(), "pipe2");
        }
        r = fds[0];
        w = fds[1];
    }
    ~Pipe() {
        if (r >= 0) ::close(r);
        if (w >= 0) ::close(w);
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    int take_r() { return std::exchange(r, -1); }
    int take_w() { return std::exchange(w, -1); }
    void put(const std::string& s) const {
        ASSERT_EQ(::write(w, s.data(), s.size()), static_cast<ssize_t>(s.size()));
    }
    void close_w() {
        ::close(w);
        w = -1;
    }
    // What is in the pipe now (the read end is non-blocking).
    std::string drain() const {
        std::string out;
        char buf[4096];
        ssize_t n;
        while ((n = ::read(r, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
        return out;
    }
    // Shrinks the pipe buffer to one page and fills it: the next write(2) gets EAGAIN.
    void fill() const {
        ::fcntl(w, F_SETPIPE_SZ, 4096);
        std::string block(4096, 'f');
        while (::write(w, block.data(), block.size()) > 0) {
        }
        while (::write(w, "f", 1) > 0) {
        }
    }
};

struct SocketPair {
    int a = -1;
    int b = -1;
    SocketPair() {
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
            throw std::system_error(errno, std::generic_category(), "socketpair");
        }
        a = fds[0];
        b = fds[1];
    }
    ~SocketPair() {
        if (a >= 0) ::close(a);
        if (b >= 0) ::close(b);
    }
    int take_a() { return std::exchange(a, -1); }
};

template <class E, class F>
std::string error_of(F f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    return "<no exception>";
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

}  // namespace

// ---------------------------------------------------------------- H106 write

// [check.H106]
TEST(IOChannel, WriteFinishesWithByteCount_H106) {
    Pipe p;
    kaa::IOChannel ch(p.take_w());
    auto ip = ch.write("hello");
    EXPECT_EQ(ip.wait(2s), 5u);
    auto empty = ch.write("");
    ASSERT_TRUE(empty.finished());
    EXPECT_EQ(empty.result(), 0u);
    EXPECT_EQ(p.drain(), "hello");
}

// [check.H106] a full pipe: the rest is queued and written once the reader drains it.
TEST(IOChannel, PartialWriteQueuesTheRestUntilWritten_H106) {
    Pipe p;
    p.fill();
    kaa::IOChannel ch(p.take_w());
    std::string big(20000, 'x');
    auto ip = ch.write(big);
    EXPECT_FALSE(ip.finished());
    EXPECT_EQ(ch.write_queue_used(), big.size());
    std::size_t got = 0;
    kaa::main::loop(
        [&] {
            got += p.drain().size();
            return !ip.finished();
        },
        2s);
    ASSERT_TRUE(ip.finished());
    EXPECT_EQ(ip.result(), big.size());
    got += p.drain().size();
    EXPECT_EQ(got, big.size() + 4096);  // the filler page, then the data
    EXPECT_EQ(ch.write_queue_used(), 0u);
}

// [check.H106]
TEST(IOChannel, WriteAndReadErrors_H106) {
    {
        Pipe p;
        kaa::IOChannel ro(p.take_r(), {.mode = kaa::IO_READ});
        EXPECT_TRUE(contains(error_of<std::system_error>([&] { ro.write("x"); }),
                             "Cannot write to a read-only channel"));
        kaa::IOChannel wo(p.take_w(), {.mode = kaa::IO_WRITE});
        EXPECT_TRUE(contains(error_of<std::system_error>([&] { wo.read(); }),
                             "Cannot read on a write-only channel"));
        EXPECT_TRUE(contains(error_of<std::system_error>([&] { wo.readline(); }),
                             "Cannot read on a write-only channel"));
    }
    {
        Pipe p;
        kaa::IOChannel ch(p.take_r());
        ch.close();
        EXPECT_FALSE(ch.alive());
        std::string msg = error_of<std::system_error>([&] { ch.read(); });
        EXPECT_TRUE(contains(msg, "I/O operation on closed file")) << msg;
        EXPECT_TRUE(contains(error_of<std::system_error>([&] { ch.write("x"); }),
                             "I/O operation on closed file"));
        try {
            ch.read();
        } catch (const std::system_error& e) {
            EXPECT_EQ(e.code().value(), EBADF);
        }
    }
}

// [check.H106] the bounded write queue.
TEST(IOChannel, WriteQueueLimit_H106) {
    Pipe p;
    p.fill();
    kaa::IOChannel ch(p.take_w(), {.queue_size = 100});
    EXPECT_EQ(error_of<std::invalid_argument>([&] { ch.write(std::string(101, 'a')); }),
              "Data would exceed write queue limit");
    auto a = ch.write(std::string(60, 'a'));
    EXPECT_TRUE(ch.writable());
    EXPECT_EQ(error_of<std::invalid_argument>([&] { ch.write(std::string(41, 'b')); }),
              "Data would exceed write queue limit");
    auto b = ch.write(std::string(40, 'b'));
    EXPECT_EQ(ch.write_queue_used(), 100u);
    EXPECT_FALSE(ch.writable());
    EXPECT_TRUE(
        contains(error_of<std::system_error>([&] { ch.write("c"); }), "Channel is not writable"));
    kaa::main::loop(
        [&] {
            p.drain();
            return !b.finished();
        },
        2s);
    EXPECT_EQ(a.result(), 60u);
    EXPECT_EQ(b.result(), 40u);
    EXPECT_TRUE(ch.writable());
}

// A write still queued can be aborted; one being written cannot.
TEST(IOChannel, AbortRemovesAQueuedWriteButNotOneBeingWritten) {
    Pipe p;
    p.fill();
    kaa::IOChannel ch(p.take_w());
    p.drain();  // room for a part of the first write only
    auto first = ch.write(std::string(100000, 'a'));
    ASSERT_FALSE(first.finished());
    auto second = ch.write("second");
    const std::size_t before = ch.write_queue_used();
    second.abort();
    EXPECT_TRUE(second.finished());
    EXPECT_TRUE(kaa::holds<kaa::InProgressAborted>(second.exception()));
    EXPECT_EQ(ch.write_queue_used(), before - 6);
    EXPECT_THROW(first.abort(), std::runtime_error);
    EXPECT_FALSE(first.finished());
    std::string got;
    kaa::main::loop(
        [&] {
            got += p.drain();
            return !first.finished();
        },
        2s);
    got += p.drain();
    EXPECT_EQ(first.result(), 100000u);
    EXPECT_EQ(got.find("second"), std::string::npos);
}

// ---------------------------------------------------------------- H107 readline

// [check.H107]
TEST(IOChannel, ReadlineReturnsNextLineWithDelimiter_H107) {
    Pipe p;
    kaa::IOChannel ch(p.take_r());
    auto first = ch.readline();
    EXPECT_FALSE(first.finished());
    p.put("hello\nworld\npart");
    EXPECT_EQ(first.wait(2s), "hello\n");
    auto second = ch.readline();  // already queued: no waiting
    ASSERT_TRUE(second.finished());
    EXPECT_EQ(second.result(), "world\n");
    auto third = ch.readline();
    EXPECT_FALSE(third.finished());
    p.put("ial\n");
    EXPECT_EQ(third.wait(2s), "partial\n");
}

// [check.H107] a list of alternatives; each is a literal, not a regular expression (Q18).
TEST(IOChannel, ReadlineHonoursAListOfLiteralDelimiters_H107) {
    Pipe p;
    kaa::IOChannel ch(p.take_r(), {.delimiter = {"\r\n", "\r", "."}});
    p.put("a\r\nb\rc.d|e");
    EXPECT_EQ(ch.readline().wait(2s), "a\r\n");
    EXPECT_EQ(ch.readline().wait(2s), "b\r");
    EXPECT_EQ(ch.readline().wait(2s), "c.");  // "." matches only a dot
    ch.set_delimiter("|");
    EXPECT_EQ(ch.readline().wait(2s), "d|");
    EXPECT_EQ(ch.read().wait(2s), "e");
}

// The readline signal gets every complete line; a partial line stays queued.
TEST(IOChannel, ReadlineSignalEmitsEveryCompleteLine) {
    Pipe p;
    kaa::IOChannel ch(p.take_r());
    std::vector<std::string> lines;
    auto c = ch.readline_signal().connect([&](const std::string& l) { lines.push_back(l); });
    p.put("one\ntwo\nthr");
    kaa::main::loop([&] { return lines.size() < 2; }, 2s);
    EXPECT_EQ(lines, (std::vector<std::string>{"one\n", "two\n"}));
    ch.readline_signal().disconnect(c);
    EXPECT_EQ(ch.read().wait(2s), "thr");
}

// Found by fuzz/fuzz_io_channel: a line longer than queue_size that arrived in one chunk came
// back whole; it comes in queue_size pieces however the data arrives ([io.channel.readline]).
TEST(IOChannel, OverlongLineInOneChunkComesInQueueSizePieces) {
    Pipe p;
    kaa::IOChannel ch(p.take_r(), {.queue_size = 4, .delimiter = {"\r\n", "\n"}});
    p.put("abcdefg\nab\r\nabc\r\n");
    EXPECT_EQ(ch.readline().wait(2s), "abcd");
    EXPECT_EQ(ch.readline().wait(2s), "efg\n");
    EXPECT_EQ(ch.readline().wait(2s), "ab\r\n");
    EXPECT_EQ(ch.readline().wait(2s), "abc\r");  // "\r\n" would end past 4 bytes
    EXPECT_EQ(ch.readline().wait(2s), "\n");
}

// ---------------------------------------------------------------- H108 read

// [check.H108]
TEST(IOChannel, ReadReturnsQueueThenNextChunkThenEmptyAtEof_H108) {
    Pipe p;
    kaa::IOChannel ch(p.take_r());
    p.put("hello\nwor");
    EXPECT_EQ(ch.readline().wait(2s), "hello\n");
    auto queued = ch.read();  // the whole queue at once
    ASSERT_TRUE(queued.finished());
    EXPECT_EQ(queued.result(), "wor");
    auto next = ch.read();
    EXPECT_FALSE(next.finished());
    p.put("ld");
    EXPECT_EQ(next.wait(2s), "ld");
    auto at_eof = ch.read();
    p.close_w();
    EXPECT_EQ(at_eof.wait(2s), "");
    EXPECT_FALSE(ch.alive());
}

TEST(IOChannel, ReadReturnsAtMostChunkSize_H108) {
    Pipe p;
    kaa::IOChannel ch(p.take_r(), {.chunk_size = 4});
    p.put("abcdefgh");
    EXPECT_EQ(ch.read().wait(2s), "abcd");
    EXPECT_EQ(ch.read().wait(2s), "efgh");
}

TEST(IOChannel, SeveralPendingReadsGetTheSameChunk_H108) {
    Pipe p;
    kaa::IOChannel ch(p.take_r());
    std::vector<std::string> signalled;
    ch.read_signal().connect([&](const std::string& s) { signalled.push_back(s); });
    auto a = ch.read();
    auto b = ch.read();
    p.put("data");
    EXPECT_EQ(a.wait(2s), "data");
    ASSERT_TRUE(b.finished());
    EXPECT_EQ(b.result(), "data");
    EXPECT_EQ(signalled, std::vector<std::string>{"data"});  // in addition, not stolen
}

TEST(IOChannel, FirstReadSignalCallbackGetsQueuedData) {
    Pipe p;
    kaa::IOChannel ch(p.take_r());
    p.put("line\nrest");
    EXPECT_EQ(ch.readline().wait(2s), "line\n");
    std::vector<std::string> got;
    ch.read_signal().connect([&](const std::string& s) { got.push_back(s); });
    EXPECT_EQ(got, std::vector<std::string>{"rest"});
    EXPECT_EQ(ch.read_queue_used(), 0u);
}

// ---------------------------------------------------------------- H109 readline at EOF

// [check.H109]
TEST(IOChannel, PendingReadlineAtEofFinishesWithPartialLine_H109) {
    Pipe p;
    kaa::IOChannel ch(p.take_r());
    auto line = ch.readline();
    p.put("partial");
    Ticker t;
    steps(3);
    EXPECT_FALSE(line.finished());
    p.close_w();
    EXPECT_EQ(line.wait(2s), "partial");
}

// [check.H109] Q13: kaa's pending readline() never finished here.
TEST(IOChannel, PendingReadlineAtEofWithNothingQueuedFinishesEmpty_H109) {
    Pipe p;
    kaa::IOChannel ch(p.take_r());
    auto line = ch.readline();
    p.close_w();
    EXPECT_EQ(line.wait(2s), "");
}

// ---------------------------------------------------------------- H110

// [check.H110]
TEST(IOChannel, ReadlineThrowsWhileReadlineSignalHasCallbacks_H110) {
    Pipe p;
    kaa::IOChannel ch(p.take_r());
    auto c = ch.readline_signal().connect([](const std::string&) {});
    EXPECT_EQ(error_of<std::runtime_error>([&] { ch.readline(); }),
              "Callback currently connected to readline signal");
    ch.readline_signal().disconnect(c);
    p.put("x\n");
    EXPECT_EQ(ch.readline().wait(2s), "x\n");  // still usable
}

// ---------------------------------------------------------------- H111

// [check.H111]
TEST(IOChannel, EofEmitsClosedFalseAndCloseEmitsClosedTrue_H111) {
    std::vector<bool> events;
    {
        Pipe p;
        kaa::IOChannel ch(p.take_r());
        ch.closed_signal().connect([&](bool expected) { events.push_back(expected); });
        auto r = ch.read();
        p.close_w();
        EXPECT_EQ(r.wait(2s), "");
        EXPECT_FALSE(ch.alive());
        EXPECT_EQ(ch.fileno(), -1);
    }
    {
        Pipe p;
        kaa::IOChannel ch(p.take_r());
        ch.closed_signal().connect([&](bool expected) { events.push_back(expected); });
        auto done = ch.close();
        EXPECT_TRUE(done.finished());
        EXPECT_TRUE(ch.close().finished());  // closing again: a no-op
    }
    EXPECT_EQ(events, (std::vector<bool>{false, true}));
}

// ---------------------------------------------------------------- H112, H113 close

// [check.H112]
TEST(IOChannel, CloseDrainsQueuedWritesFirst_H112) {
    Pipe p;
    p.fill();
    kaa::IOChannel ch(p.take_w());
    std::vector<bool> closed;
    ch.closed_signal().connect([&](bool e) { closed.push_back(e); });
    auto w = ch.write(std::string(10000, 'd'));
    auto done = ch.close();
    EXPECT_FALSE(done.finished());
    EXPECT_FALSE(ch.alive());
    EXPECT_TRUE(contains(error_of<std::system_error>([&] { ch.write("late"); }),
                         "I/O operation on closed file"));
    std::size_t got = 0;
    kaa::main::loop(
        [&] {
            got += p.drain().size();
            return !done.finished();
        },
        2s);
    ASSERT_TRUE(done.finished());
    EXPECT_EQ(w.result(), 10000u);
    EXPECT_EQ(closed, std::vector<bool>{true});
    EXPECT_EQ(got + p.drain().size(), 10000u + 4096u);
}

// [check.H113] Q19: every queued write fails, listened to or not.
TEST(IOChannel, ImmediateCloseFailsAllPendingWrites_H113) {
    kaa::test::ReportCapture cap;
    Pipe p;
    p.fill();
    kaa::IOChannel ch(p.take_w());
    auto a = ch.write("a");
    auto b = ch.write("b");
    std::string a_error;
    a.connect_exception([&](std::exception_ptr e) {
        a_error = kaa::describe_exception(e);
        return false;
    });
    ch.close(true);
    ASSERT_TRUE(a.finished());
    ASSERT_TRUE(b.finished());
    EXPECT_TRUE(contains(a_error, "Channel closed prematurely")) << a_error;
    EXPECT_TRUE(b.failed());
    EXPECT_THROW(b.result(), std::system_error);
}

// ---------------------------------------------------------------- H114 flow control

// [check.H114]
TEST(IOChannel, NoDataIsConsumedWhileNobodyIsInterested_H114) {
    Pipe p;
    int r = p.r;
    kaa::IOChannel ch(p.take_r());
    p.put("abc");
    Ticker t;
    steps(3);
    EXPECT_FALSE(ch.watching_read());
    EXPECT_EQ(ch.read_queue_used(), 0u);
    char buf[8];
    ASSERT_EQ(::read(r, buf, sizeof buf), 3);  // still in the pipe

    auto pending = ch.read();
    EXPECT_TRUE(ch.watching_read());
    pending.abort();
    EXPECT_FALSE(ch.watching_read());
    p.put("def");
    steps(3);
    EXPECT_EQ(ch.read_queue_used(), 0u);
    ASSERT_EQ(::read(r, buf, sizeof buf), 3);
}

// An aborted read() holds no abort listener: it stops counting as interest at once, takes no
// data, and aborted reads do not pile up ([io.channel.flow]).
TEST(IOChannel, AbortedReadsTakeNoDataAndDoNotPileUp) {
    Pipe p;
    kaa::IOChannel ch(p.take_r());
    Ticker t;
    for (int i = 0; i < 1000; ++i) {
        auto r = ch.read();
        EXPECT_TRUE(ch.watching_read());
        r.abort();
        EXPECT_FALSE(ch.watching_read());
        ASSERT_TRUE(r.finished());
        EXPECT_TRUE(r.failed());
    }
    p.put("xyz");
    steps(3);  // readiness nobody wants: the watcher is dropped, nothing is read
    EXPECT_EQ(ch.read_queue_used(), 0u);
    auto r1 = ch.read();
    auto r2 = ch.read();
    r1.abort();
    EXPECT_EQ(r2.wait(2s), "xyz");  // the live one gets the data, the aborted one nothing
}

// ---------------------------------------------------------------- re-entrancy, faults

namespace {
kaa::Coroutine<std::string> read_then_close(kaa::IOChannel* ch) {
    std::string data = co_await ch->read();
    ch->close(true);
    co_return data;
}
kaa::Coroutine<std::string> read_then_destroy(std::unique_ptr<kaa::IOChannel>* owner) {
    std::string data = co_await (*owner)->read();
    owner->reset();
    co_return data;
}
kaa::Coroutine<std::string> read_then_write(kaa::IOChannel* ch) {
    std::string data = co_await ch->read();
    co_await ch->write(data);
    co_return data;
}
}  // namespace

TEST(IOChannel, CoroutineResumedByReadMayCloseTheChannel) {
    SocketPair sp;
    kaa::IOChannel ch(sp.take_a());
    auto closer = read_then_close(&ch);
    auto other = ch.read();  // finished after the closer already closed the channel
    auto line = ch.readline();
    ASSERT_EQ(::write(sp.b, "x\n", 2), 2);
    EXPECT_EQ(closer.wait(2s), "x\n");
    ASSERT_TRUE(other.finished());
    EXPECT_EQ(other.result(), "x\n");
    ASSERT_TRUE(line.finished());
    EXPECT_FALSE(ch.alive());
}

TEST(IOChannel, CoroutineResumedByReadMayDestroyTheChannel) {
    SocketPair sp;
    auto owner = std::make_unique<kaa::IOChannel>(sp.take_a());
    auto c = read_then_destroy(&owner);
    auto other = owner->read();
    ASSERT_EQ(::write(sp.b, "y", 1), 1);
    EXPECT_EQ(c.wait(2s), "y");
    EXPECT_EQ(owner, nullptr);
    ASSERT_TRUE(other.finished());
}

TEST(IOChannel, EchoOverASocketPair) {
    SocketPair sp;
    kaa::IOChannel ch(sp.take_a());
    auto c = read_then_write(&ch);
    ASSERT_EQ(::write(sp.b, "ping", 4), 4);
    EXPECT_EQ(c.wait(2s), "ping");
    char buf[8];
    EXPECT_EQ(::read(sp.b, buf, sizeof buf), 4);
}

// The peer closed: the write fails with EPIPE (no SIGPIPE) and the channel closes.
TEST(IOChannel, WriteToAClosedPeerFailsWithoutSigpipe) {
    SocketPair sp;
    kaa::IOChannel ch(sp.take_a());
    std::vector<bool> closed;
    ch.closed_signal().connect([&](bool e) { closed.push_back(e); });
    ::close(sp.b);
    sp.b = -1;
    auto w = ch.write("into the void");
    EXPECT_THROW(w.wait(2s), std::system_error);
    EXPECT_EQ(closed, std::vector<bool>{false});
    EXPECT_FALSE(ch.alive());

    Pipe p;
    kaa::IOChannel pw(p.take_w());
    ::close(p.take_r());
    auto w2 = pw.write("x");
    try {
        w2.wait(2s);
        ADD_FAILURE() << "no error";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), EPIPE);
    }
}

// The peer resets the connection while a read waits: the read ends with "".
TEST(IOChannel, PeerResetEndsAPendingRead) {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    kaa::IOChannel ch(fds[0]);
    auto r = ch.read();
    ::close(fds[1]);
    EXPECT_EQ(r.wait(2s), "");
    EXPECT_FALSE(ch.alive());
}

// A half-closed socket: EOF on reading, but queued writes still reach the peer first when
// the channel does not close on EOF.
TEST(IOChannel, HalfCloseReadsEofAndStillWrites) {
    SocketPair sp;
    kaa::IOChannel ch(sp.take_a());
    ch.set_close_on_eof(false);
    ::shutdown(sp.b, SHUT_WR);
    EXPECT_EQ(ch.read().wait(2s), "");
    EXPECT_TRUE(ch.eof());
    EXPECT_FALSE(ch.readable());
    EXPECT_EQ(ch.write("bye").wait(2s), 3u);
    char buf[8];
    EXPECT_EQ(::read(sp.b, buf, sizeof buf), 3);
}

TEST(IOChannel, RegularFileDoesNotCloseOnEof) {
    char path[] = "/tmp/kaa_io_channel_XXXXXX";
    int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::unlink(path);
    ASSERT_EQ(::write(fd, "one\ntwo\n", 8), 8);
    ::lseek(fd, 0, SEEK_SET);
    kaa::IOChannel ch(fd);
    EXPECT_FALSE(ch.close_on_eof());
    EXPECT_EQ(ch.readline().wait(2s), "one\n");
    EXPECT_EQ(ch.readline().wait(2s), "two\n");
    EXPECT_EQ(ch.read().wait(2s), "");
    EXPECT_TRUE(ch.alive());
    EXPECT_FALSE(ch.readable());
}

TEST(IOChannel, StealTakesOverFdQueuesAndCallbacks) {
    Pipe p;
    kaa::IOChannel a(p.take_r());
    std::vector<std::string> got;
    a.read_signal().connect([&](const std::string& s) { got.push_back(s); });
    kaa::IOChannel b;
    EXPECT_EQ(b.repr(), "<kaa.IOChannel - disconnected>");
    b.steal(a);
    EXPECT_FALSE(a.alive());
    EXPECT_TRUE(b.alive());
    p.put("z");
    kaa::main::loop([&] { return got.empty(); }, 2s);
    EXPECT_EQ(got, std::vector<std::string>{"z"});
}

TEST(IOChannel, DestroyingTheChannelFinishesPendingReads) {
    Pipe p;
    auto ch = std::make_unique<kaa::IOChannel>(p.take_r());
    auto r = ch->read();
    auto l = ch->readline();
    ch.reset();
    ASSERT_TRUE(r.finished());
    EXPECT_EQ(r.result(), "");
    ASSERT_TRUE(l.finished());
}
