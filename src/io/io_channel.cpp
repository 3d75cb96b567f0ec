// IOChannel: the shared ChannelCore (queues, watchers, signals) and the public wrappers.
//
// Every function that finishes InProgress objects or emits a signal first holds the core
// (`keep`), moves the list it dispatches out of the core, and re-checks the state after each
// call: a listener or a resumed coroutine may read, write, close or destroy the channel.
// BaseExceptions (an abort, SystemExit) escaping a listener are collected and rethrown once
// the whole list was dispatched, so that no InProgress is left pending.
//
// Threads: loop thread only.

#include <kaa/detail/debug_aids.hpp>
#include <kaa/detail/loop.hpp>
#include <kaa/detail/syscalls.hpp>
#include <kaa/io_channel.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace kaa {

// ---------------------------------------------------------------- Delimiter

Delimiter::Delimiter() {
    static const auto newline = std::make_shared<const std::vector<std::string>>(1, "\n");
    list_ = newline;
}

Delimiter::Delimiter(std::string d) {
    if (d.empty()) throw std::invalid_argument("kaa: IOChannel delimiter must not be empty");
    list_ = std::make_shared<const std::vector<std::string>>(1, std::move(d));
}

Delimiter::Delimiter(std::initializer_list<std::string> list)
    : Delimiter(std::vector<std::string>(list)) {}

Delimiter::Delimiter(std::vector<std::string> list) {
    if (list.empty()) throw std::invalid_argument("kaa: IOChannel delimiter list is empty");
    for (const auto& d : list) {
        if (d.empty()) throw std::invalid_argument("kaa: IOChannel delimiter must not be empty");
    }
    list_ = std::make_shared<const std::vector<std::string>>(std::move(list));
}

namespace detail {

namespace {

constexpr std::size_t kScratchSize = 64 * 1024;  // the most one read(2) asks for
constexpr std::size_t kKeepCapacity = 4096;      // an emptied read queue keeps at most this

// One read buffer per thread, shared by every channel: an idle channel holds none.
char* scratch() {
    static thread_local std::unique_ptr<char[]> buf;
    if (!buf) buf = std::make_unique<char[]>(kScratchSize);
    return buf.get();
}

// SIGPIPE must never kill the process: ignored once, unless the program installed a handler.
void ignore_sigpipe_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction old {};
        if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL &&
            !(old.sa_flags & SA_SIGINFO)) {
            struct sigaction ign {};
            ign.sa_handler = SIG_IGN;
            sigemptyset(&ign.sa_mask);
            ::sigaction(SIGPIPE, &ign, nullptr);
        }
    });
}

[[noreturn]] void throw_ebadf(const char* what) {
    throw std::system_error(EBADF, std::generic_category(), what);
}

// Runs f; the first exception escaping it (a BaseException from a listener) is kept in err.
template <class F>
void guarded(std::exception_ptr& err, F&& f) {
    try {
        f();
    } catch (...) {
        if (!err) err = std::current_exception();
    }
}

}  // namespace

struct ChannelCore;

/// A read or write readiness watcher of a channel. For fds epoll refuses (regular files) it is
/// simulated: a ready-phase task runs the handler while armed.
struct ChannelWatch : IoWatcher {
    ChannelCore* core = nullptr;
    bool armed = false;        // wanted: registered with epoll, or a ready task queued
    bool task_queued = false;  // simulated readiness: a task is in the ready queue
};

/// A pending read() or readline().
struct PendingRead {
    std::uint64_t id = 0;
    InProgress<std::string> ip;
};

/// A queued write.
struct WriteItem {
    std::uint64_t id = 0;
    std::string data;
    std::size_t off = 0;  // bytes of data already written
    InProgress<std::size_t> ip;
};

struct ChannelCore : std::enable_shared_from_this<ChannelCore> {
    int fd = -1;
    int mode = 0;
    bool closing = false;       // close() was called: alive() is false
    bool eof = false;           // read(2) returned 0 or failed
    bool close_on_eof = true;   // EOF closes (false for regular files)
    bool socket_mode = false;   // send(MSG_NOSIGNAL) instead of write(2)
    bool always_ready = false;  // epoll refuses the fd: readiness is simulated
    bool detached = false;      // the IOChannel object is gone: emit nothing
    std::size_t chunk_size = 1024 * 1024;
    std::size_t queue_size = 1024 * 1024;
    Delimiter delim;

    std::string rq;        // read queue: the bytes [rpos, size) are queued
    std::size_t rpos = 0;  // consumed prefix of rq
    std::size_t scan = 0;  // bytes after rpos already searched for a delimiter
    std::vector<PendingRead> reads;
    std::vector<PendingRead> readlines;
    std::list<WriteItem> wq;
    std::size_t wq_used = 0;
    std::uint64_t next_id = 1;

    ChannelWatch rw;  // readability
    ChannelWatch ww;  // writability

    bool close_pending = false;  // close() waits for the write queue to drain
    bool close_expected = true;  // what closed_signal() tells once the drain closed the fd
    std::optional<InProgress<void>> close_ip;  // what a deferred close() returned
    std::shared_ptr<ChannelCore> self_keep;    // draining after the IOChannel was destroyed

    // The signals, made on first use: a channel nobody connects to holds none.
    std::unique_ptr<Signal<const std::string&>> read_sig_;
    std::unique_ptr<Signal<const std::string&>> readline_sig_;
    std::unique_ptr<Signal<bool>> closed_sig_;

    ChannelCore() {
        rw.core = this;
        ww.core = this;
        ww.write = true;
        rw.ready = &read_ready;
        ww.ready = &write_ready;
        static const bool named = [] {
            auto name = [](const IoWatcher* w) {
                return "IOChannel on fd " + std::to_string(w->fd) +
                       (w->write ? " (writing)" : " (reading)");
            };
            name_watchers(&read_ready, name);
            name_watchers(&write_ready, name);
            return true;
        }();
        (void)named;
    }
    static void read_ready(IoWatcher* w) { static_cast<ChannelWatch*>(w)->core->on_read_ready(); }
    static void write_ready(IoWatcher* w) { static_cast<ChannelWatch*>(w)->core->on_write_ready(); }
    ~ChannelCore() {
        io_unregister(&rw);
        io_unregister(&ww);
        if (fd >= 0) ::close(fd);
    }

    static std::shared_ptr<ChannelCore> create() {
        ignore_sigpipe_once();
        return std::make_shared<ChannelCore>();
    }

    std::size_t read_listeners() const { return read_sig_ ? read_sig_->count() : 0; }
    std::size_t readline_listeners() const { return readline_sig_ ? readline_sig_->count() : 0; }

    // A data signal made on first use: connecting a callback arms reading and then runs
    // `on_connect` (which may hand it queued data); disconnecting the last one stops watching.
    template <class OnConnect>
    Signal<const std::string&>& data_signal(std::unique_ptr<Signal<const std::string&>>& slot,
                                            OnConnect on_connect) {
        if (slot) return *slot;
        slot = std::make_unique<Signal<const std::string&>>(
            [weak = weak_from_this(), on_connect](Signal<const std::string&>& s,
                                                  SignalAction action) {
                auto core = weak.lock();
                if (!core) return;
                if (action == SignalAction::disconnected) {
                    core->drop_read_watch_if_idle();
                    return;
                }
                core->arm_read();
                on_connect(*core, s);
            });
        return *slot;
    }
    Signal<const std::string&>& read_sig() {
        return data_signal(read_sig_, [](ChannelCore& core, Signal<const std::string&>& s) {
            // The first callback gets the queued data at once (kaa).
            if (s.count() == 1 && core.queued() > 0) {
                std::string data = core.take_all();
                s.emit(data);
            }
        });
    }
    Signal<const std::string&>& readline_sig() {
        return data_signal(readline_sig_, [](ChannelCore& core, Signal<const std::string&>&) {
            std::exception_ptr err;
            core.process_lines(err);
            if (err) std::rethrow_exception(err);
        });
    }
    Signal<bool>& closed_sig() {
        if (!closed_sig_) closed_sig_ = std::make_unique<Signal<bool>>();
        return *closed_sig_;
    }
    void disconnect_signals() {
        if (read_sig_) read_sig_->disconnect_all();
        if (readline_sig_) readline_sig_->disconnect_all();
        if (closed_sig_) closed_sig_->disconnect_all();
    }

    // ------------------------------------------------ state

    bool alive() const { return fd >= 0 && !closing; }
    std::size_t queued() const { return rq.size() - rpos; }
    bool readable() const { return (mode & IO_READ) && ((alive() && !eof) || queued() > 0); }
    bool read_interest() noexcept {
        prune_reads();
        return !reads.empty() || !readlines.empty() || read_listeners() > 0 ||
               readline_listeners() > 0;
    }

    // ------------------------------------------------ watchers

    void arm(ChannelWatch& w) {
        if (w.armed || fd < 0) return;
        if (!always_ready) {
            try {
                io_register(&w, fd, w.write);
                w.armed = true;
                return;
            } catch (const std::system_error& e) {
                if (e.code().value() != EPERM) throw;
                always_ready = true;  // a regular file or directory: always ready
            }
        }
        w.armed = true;
        queue_task(w);
    }
    void disarm(ChannelWatch& w) noexcept {
        w.armed = false;
        io_unregister(&w);
    }
    void queue_task(ChannelWatch& w) {
        if (w.task_queued) return;
        w.task_queued = true;
        const bool write = w.write;
        schedule_ready([weak = weak_from_this(), write] {
            auto c = weak.lock();
            if (!c) return;
            ChannelWatch& w = write ? c->ww : c->rw;
            w.task_queued = false;
            if (!w.armed) return;
            if (write) {
                c->on_write_ready();
            } else {
                c->on_read_ready();
            }
            if (w.armed && c->fd >= 0) c->queue_task(w);
        });
    }
    void arm_read() {
        // Unpruned: an aborted read still listed arms at worst once, and its readiness finds
        // nobody interested (on_read_ready() prunes first).
        if (fd >= 0 && (mode & IO_READ) && !eof &&
            (!reads.empty() || !readlines.empty() || read_listeners() > 0 ||
             readline_listeners() > 0)) {
            arm(rw);
        }
    }
    void drop_read_watch_if_idle() noexcept {
        if (!read_interest()) disarm(rw);
    }

    // ------------------------------------------------ read queue

    void compact() {
        if (rpos == rq.size()) {
            rpos = 0;
            scan = 0;
            if (rq.capacity() > kKeepCapacity) {
                std::string().swap(rq);
            } else {
                rq.clear();
            }
        } else if (rpos > kKeepCapacity && rpos > rq.size() / 2) {
            rq.erase(0, rpos);
            rpos = 0;
        }
    }
    std::string take(std::size_t n) {
        std::string out(rq, rpos, n);
        rpos += n;
        scan = 0;
        compact();
        return out;
    }
    std::string take_all() { return take(queued()); }

    // The next complete line (or a queue_size() piece of an overlong one), if queued. A line
    // ends at the earliest delimiter match (at one position the first listed wins) that ends
    // within queue_size bytes of its start, however the data arrived: a longer line comes back
    // in queue_size pieces also when it arrived in one chunk ([io.channel.readline]).
    std::optional<std::string> take_line() {
        const std::size_t start = rpos + scan;
        std::size_t best = std::string::npos;
        std::size_t best_len = 0;
        std::size_t longest = 1;
        for (const auto& d : delim.list()) {
            longest = std::max(longest, d.size());
            std::size_t p = rq.find(d, start);
            // A later match of the same delimiter would end later still.
            if (p != std::string::npos && p - rpos + d.size() > queue_size) continue;
            if (p < best) {
                best = p;
                best_len = d.size();
            }
        }
        if (best != std::string::npos) return take(best + best_len - rpos);
        if (queued() >= queue_size) return take(queue_size);
        scan = queued() >= longest - 1 ? queued() - (longest - 1) : 0;
        return std::nullopt;
    }

    // A pending read() or readline() holds no abort listener (an idle connection must be
    // cheap, [io.channel.flow]): an aborted one is finished, so it stops counting as interest at
    // once and is dropped from its list the next time the list is looked at.
    PendingRead add_pending(std::vector<PendingRead> ChannelCore::*list) {
        prune_reads();
        PendingRead p{next_id++, InProgress<std::string>(InProgressOptions{.abortable = true})};
        (this->*list).push_back(p);
        try {
            arm_read();
        } catch (...) {
            (this->*list).pop_back();
            throw;
        }
        return p;
    }

    // Drops the pending reads that ended without data (aborted). Called on every readiness and
    // read(): the lists hold one entry or none, so the common case is a check of each.
    void prune_reads() noexcept {
        prune(reads);
        prune(readlines);
    }
    [[gnu::always_inline]] static void prune(std::vector<PendingRead>& list) noexcept {
        for (const PendingRead& r : list) {
            if (r.ip.finished()) [[unlikely]] {
                prune_slow(list);
                return;
            }
        }
    }
    [[gnu::noinline]] static void prune_slow(std::vector<PendingRead>& list) noexcept {
        std::erase_if(list, [](const PendingRead& r) { return r.ip.finished(); });
    }

    static void finish_all(std::vector<PendingRead>& list, const std::string& value,
                           std::exception_ptr& err) {
        for (auto& p : list) {
            if (!p.ip.finished()) guarded(err, [&] { p.ip.finish(value); });
        }
    }

    // ------------------------------------------------ reading

    void on_read_ready() {
        auto keep = shared_from_this();
        if (fd < 0 || !read_interest()) {
            disarm(rw);  // lazily: nobody is interested any more
            return;
        }
        char* buf = scratch();
        const std::size_t want = std::min(chunk_size, kScratchSize);
        ssize_t n;
        do {
            n = detail::sys().read(fd, buf, want);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            handle_eof();  // a read error (ECONNRESET, EIO...) ends the stream like EOF
            return;
        }
        if (n == 0) {
            handle_eof();
            return;
        }
        dispatch(std::string(buf, static_cast<std::size_t>(n)));
    }

    void dispatch(std::string chunk) {
        std::exception_ptr err;
        const bool line_interest = !readlines.empty() || readline_listeners() > 0;
        bool handed = false;
        if (!line_interest && reads.size() == 1 && read_listeners() == 0 &&
            !reads.front().ip.finished()) {
            // The common case (one reader, no signal): the chunk moves into its InProgress, and
            // the list keeps its capacity for the read() the resumed reader makes at once.
            PendingRead one = std::move(reads.front());
            reads.clear();
            guarded(err, [&] { one.ip.finish(std::move(chunk)); });
            if (err) std::rethrow_exception(err);
            return;
        }
        if (!reads.empty() || read_listeners() > 0) {
            handed = true;
            std::vector<PendingRead> waiting;
            waiting.swap(reads);
            guarded(err, [&] {
                if (read_sig_) read_sig_->emit(chunk);
            });
            if (!line_interest && waiting.size() == 1) {
                // The common case (one reader): the chunk moves into its InProgress.
                if (!waiting[0].ip.finished()) {
                    guarded(err, [&] { waiting[0].ip.finish(std::move(chunk)); });
                }
            } else {
                finish_all(waiting, chunk, err);
            }
            waiting.clear();
            if (reads.empty()) reads.swap(waiting);  // keeps the capacity: no allocation per read
        }
        if ((line_interest || !handed) && fd >= 0) {
            rq.append(chunk);
            process_lines(err);
        }
        if (err) std::rethrow_exception(err);
    }

    // Hands complete lines to pending readline() calls and readline_signal() while wanted.
    void process_lines(std::exception_ptr& err) {
        while ((prune_reads(), !readlines.empty()) || readline_listeners() > 0) {
            std::optional<std::string> line = take_line();
            if (!line) break;
            std::vector<PendingRead> waiting = std::move(readlines);
            readlines.clear();
            guarded(err, [&] {
                if (readline_sig_) readline_sig_->emit(*line);
            });
            finish_all(waiting, *line, err);
        }
    }

    void handle_eof() {
        auto keep = shared_from_this();
        eof = true;
        prune_reads();
        disarm(rw);
        std::exception_ptr err;
        // The readline signal gets the last, partial line (readline() calls get it below).
        if (readlines.empty() && readline_listeners() > 0 && queued() > 0) {
            std::string rest = take_all();
            guarded(err, [&] {
                if (readline_sig_) readline_sig_->emit(rest);
            });
        }
        if (close_on_eof && wq.empty()) {
            guarded(err, [&] { close_now(false, true); });
        } else {
            // Not closing, or closing once the queued writes drained (a half-closed peer
            // still gets them): pending reads end now.
            if (close_on_eof) {
                closing = true;
                close_pending = true;
                close_expected = false;
            }
            std::vector<PendingRead> rs = std::move(reads);
            std::vector<PendingRead> ls = std::move(readlines);
            reads.clear();
            readlines.clear();
            std::string rest = (!rs.empty() || !ls.empty()) ? take_all() : std::string();
            finish_all(ls, rest, err);
            finish_all(rs, rest, err);
        }
        if (err) std::rethrow_exception(err);
    }

    // ------------------------------------------------ writing

    ssize_t raw_write(const char* p, std::size_t n) const {
        ssize_t r;
        do {
            r = socket_mode ? detail::sys().send(fd, p, n, MSG_NOSIGNAL)
                            : detail::sys().write(fd, p, n);
        } while (r < 0 && errno == EINTR);
        return r;
    }

    InProgress<std::size_t> write(std::string data) {
        if (fd < 0 || closing) throw_ebadf("I/O operation on closed file");
        if (!(mode & IO_WRITE)) throw_ebadf("Cannot write to a read-only channel");
        if (wq_used >= queue_size) throw_ebadf("Channel is not writable");
        if (wq_used + data.size() > queue_size) {
            throw std::invalid_argument("Data would exceed write queue limit");
        }
        const std::size_t size = data.size();
        InProgress<std::size_t> ip;
        if (size == 0) return ip.finish(std::size_t{0});
        std::size_t off = 0;
        if (wq.empty()) {
            // Nothing queued: write at once (an error is left to the write handler, which
            // meets it again and fails the write there).
            ssize_t n = raw_write(data.data(), size);
            if (n == static_cast<ssize_t>(size)) return ip.finish(size);
            if (n > 0) off = static_cast<std::size_t>(n);
        }
        WriteItem item{next_id++, std::move(data), off, ip};
        ip.connect_abort([weak = weak_from_this(), id = item.id](const InProgressAborted&) {
            auto c = weak.lock();
            return c ? c->abort_write(id) : true;
        });
        wq_used += size - off;
        wq.push_back(std::move(item));
        arm(ww);
        return ip;
    }

    // The abort listener of a queued write: false (veto) once part of it was written.
    bool abort_write(std::uint64_t id) {
        auto it = std::find_if(wq.begin(), wq.end(),
                               [id](const WriteItem& w) { return w.id == id; });
        if (it == wq.end()) return true;
        if (it->off > 0) return false;
        wq_used -= it->data.size();
        wq.erase(it);
        if (wq.empty()) {
            disarm(ww);
            if (close_pending) {
                // Not from inside abort(): the close finishes other InProgress objects.
                schedule_ready([keep = shared_from_this()] {
                    if (keep->close_pending && keep->wq.empty()) {
                        keep->close_now(keep->close_expected, true);
                    }
                });
            }
        }
        return true;
    }

    void on_write_ready() {
        auto keep = shared_from_this();
        std::exception_ptr err;
        while (!wq.empty() && fd >= 0) {
            WriteItem& item = wq.front();
            ssize_t n = raw_write(item.data.data() + item.off, item.data.size() - item.off);
            if (n < 0) {
                const int e = errno;
                if (e == EAGAIN || e == EWOULDBLOCK) break;
                WriteItem failed = std::move(wq.front());
                wq.pop_front();
                wq_used -= failed.data.size() - failed.off;
                if (close_on_eof) guarded(err, [&] { close_now(false, true); });
                guarded(err, [&] {
                    failed.ip.throw_exception(
                        std::system_error(e, std::generic_category(), "write"));
                });
                continue;
            }
            item.off += static_cast<std::size_t>(n);
            wq_used -= static_cast<std::size_t>(n);
            if (item.off == item.data.size()) {
                InProgress<std::size_t> ip = std::move(item.ip);
                const std::size_t size = item.data.size();
                wq.pop_front();
                guarded(err, [&] { ip.finish(size); });
            }
        }
        if (wq.empty()) {
            disarm(ww);
            if (close_pending && fd >= 0) {
                guarded(err, [&] { close_now(close_expected, true); });
            }
        }
        if (err) std::rethrow_exception(err);
    }

    // ------------------------------------------------ closing

    // Closes at once: see IOChannel::close(). `emit`: emit closed_signal(expected).
    void close_now(bool expected, bool emit) {
        if (fd < 0) return;
        auto keep = shared_from_this();
        closing = true;
        disarm(rw);
        disarm(ww);
        ::close(fd);  // not retried on EINTR: Linux closed it anyway
        fd = -1;
        mode = 0;
        prune_reads();
        std::vector<PendingRead> rs = std::move(reads);
        std::vector<PendingRead> ls = std::move(readlines);
        reads.clear();
        readlines.clear();
        std::list<WriteItem> ws = std::move(wq);
        wq.clear();
        wq_used = 0;
        std::optional<InProgress<void>> cip = std::move(close_ip);
        close_ip.reset();
        close_pending = false;
        close_expected = true;
        std::exception_ptr err;
        std::string rest = (!rs.empty() || !ls.empty()) ? take_all() : std::string();
        finish_all(rs, rest, err);
        finish_all(ls, rest, err);
        for (auto& w : ws) {  // all of them (Q19), listened to or not
            if (w.ip.finished()) continue;
            guarded(err, [&] {
                w.ip.throw_exception(std::system_error(EBADF, std::generic_category(),
                                                       "Channel closed prematurely"));
            });
        }
        if (cip && !cip->finished()) guarded(err, [&] { cip->finish(); });
        if (emit && !detached && closed_sig_) guarded(err, [&] { closed_sig_->emit(expected); });
        self_keep.reset();  // `keep` still holds it
        if (err) std::rethrow_exception(err);
    }

    InProgress<void> close(bool immediate) {
        InProgress<void> done;
        if (fd < 0) return done.finish();
        if (!immediate && !wq.empty()) {
            closing = true;
            close_pending = true;
            close_expected = true;
            if (!close_ip) close_ip = InProgress<void>();
            return *close_ip;
        }
        close_now(true, true);
        return done.finish();
    }

    void reset_for(int new_fd, const IOChannelOptions& o) {
        fd = new_fd;
        mode = o.mode & (IO_READ | IO_WRITE);
        closing = false;
        eof = false;
        chunk_size = std::max<std::size_t>(1, o.chunk_size);
        queue_size = std::max<std::size_t>(1, o.queue_size);
        delim = o.delimiter;
        rq.clear();
        rpos = scan = 0;
        close_on_eof = ::lseek(new_fd, 0, SEEK_CUR) < 0;
        struct stat st {};
        always_ready = ::fstat(new_fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode));
    }
};

}  // namespace detail

// ---------------------------------------------------------------- IOChannel

IOChannel::IOChannel() : core_(detail::ChannelCore::create()) {}

IOChannel::IOChannel(int fd, IOChannelOptions options) : IOChannel() {
    wrap(fd, std::move(options));
}

IOChannel::~IOChannel() {
    if (!core_) return;
    auto core = std::move(core_);
    core->detached = true;
    try {
        core->disconnect_signals();
        if (core->close_pending && core->fd >= 0) {
            core->self_keep = core;  // let the drain finish; it closes the fd
            return;
        }
        core->close_now(true, false);
    } catch (...) {
        report_exception(std::current_exception(), "Exception while destroying an IOChannel");
    }
}

void IOChannel::wrap(int fd, IOChannelOptions options) {
    detail::assert_loop_thread("IOChannel::wrap()");
    if (fd < 0) throw std::invalid_argument("kaa: IOChannel::wrap(): negative fd");
    if (!(options.mode & (IO_READ | IO_WRITE))) {
        throw std::invalid_argument("kaa: IOChannel mode must contain IO_READ or IO_WRITE");
    }
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        throw std::system_error(errno, std::generic_category(), "kaa: IOChannel::wrap(): fcntl");
    }
    core_->close_now(true, true);
    core_->reset_for(fd, options);
    core_->arm_read();  // callbacks connected before wrap() start reading now
}

InProgress<std::string> IOChannel::read() {
    detail::assert_loop_thread("IOChannel::read()");
    auto& c = *core_;
    if (c.queued() > 0) return InProgress<std::string>().finish(c.take_all());
    if (c.fd < 0) detail::throw_ebadf("I/O operation on closed file");
    if (!(c.mode & IO_READ)) detail::throw_ebadf("Cannot read on a write-only channel");
    if (!c.readable()) return InProgress<std::string>().finish(std::string());
    InProgress<std::string> ip = c.add_pending(&detail::ChannelCore::reads).ip;
#if KAA_DEBUG_AIDS_ON
    detail::debug_label(&detail::Access::state(ip),
                        "IOChannel::read() on fd " + std::to_string(c.fd));
#endif
    return ip;
}

InProgress<std::string> IOChannel::readline() {
    detail::assert_loop_thread("IOChannel::readline()");
    auto& c = *core_;
    if (c.readline_listeners() > 0) {
        throw std::runtime_error("Callback currently connected to readline signal");
    }
    if (auto line = c.take_line()) return InProgress<std::string>().finish(std::move(*line));
    if (c.fd < 0 && c.queued() == 0) detail::throw_ebadf("I/O operation on closed file");
    if (c.fd >= 0 && !(c.mode & IO_READ)) {
        detail::throw_ebadf("Cannot read on a write-only channel");
    }
    // At EOF (or closed with data left): the rest, without a delimiter, or "" (Q13).
    if (!c.readable() || c.fd < 0 || c.eof) return InProgress<std::string>().finish(c.take_all());
    InProgress<std::string> ip = c.add_pending(&detail::ChannelCore::readlines).ip;
#if KAA_DEBUG_AIDS_ON
    detail::debug_label(&detail::Access::state(ip),
                        "IOChannel::readline() on fd " + std::to_string(c.fd));
#endif
    return ip;
}

InProgress<std::size_t> IOChannel::write(std::string data) {
    detail::assert_loop_thread("IOChannel::write()");
    return core_->write(std::move(data));
}

InProgress<void> IOChannel::close(bool immediate) {
    detail::assert_loop_thread("IOChannel::close()");
    return core_->close(immediate);
}

void IOChannel::steal(IOChannel& other) {
    detail::assert_loop_thread("IOChannel::steal()");
    if (&other == this) return;
    auto mine = std::move(core_);
    core_ = std::move(other.core_);
    other.core_ = detail::ChannelCore::create();
    mine->detached = true;
    mine->disconnect_signals();
    mine->close_now(true, false);
}

Signal<const std::string&>& IOChannel::read_signal() { return core_->read_sig(); }
Signal<const std::string&>& IOChannel::readline_signal() { return core_->readline_sig(); }
Signal<bool>& IOChannel::closed_signal() { return core_->closed_sig(); }

bool IOChannel::alive() const { return core_->alive(); }
bool IOChannel::readable() const { return core_->readable(); }
bool IOChannel::writable() const {
    return (core_->mode & IO_WRITE) && core_->alive() && core_->wq_used < core_->queue_size;
}
int IOChannel::fileno() const { return core_->fd; }
int IOChannel::mode() const { return core_->mode; }
bool IOChannel::eof() const { return core_->eof; }
std::size_t IOChannel::chunk_size() const { return core_->chunk_size; }
void IOChannel::set_chunk_size(std::size_t n) { core_->chunk_size = std::max<std::size_t>(1, n); }
std::size_t IOChannel::queue_size() const { return core_->queue_size; }
void IOChannel::set_queue_size(std::size_t n) { core_->queue_size = std::max<std::size_t>(1, n); }
std::size_t IOChannel::write_queue_used() const { return core_->wq_used; }
std::size_t IOChannel::read_queue_used() const { return core_->queued(); }
const Delimiter& IOChannel::delimiter() const { return core_->delim; }
void IOChannel::set_delimiter(Delimiter d) {
    core_->delim = std::move(d);
    core_->scan = 0;
}
bool IOChannel::close_on_eof() const { return core_->close_on_eof; }
void IOChannel::set_close_on_eof(bool on) { core_->close_on_eof = on; }
bool IOChannel::watching_read() const { return core_->rw.armed && core_->read_interest(); }
void IOChannel::set_socket_mode(bool on) { core_->socket_mode = on; }
InProgress<std::string> IOChannel::pending_read(bool line) {
    return core_->add_pending(line ? &detail::ChannelCore::readlines : &detail::ChannelCore::reads)
        .ip;
}

std::string IOChannel::repr() const {
    if (core_->fd < 0) return "<kaa.IOChannel - disconnected>";
    return "<kaa.IOChannel fd=" + std::to_string(core_->fd) + ">";
}

}  // namespace kaa
