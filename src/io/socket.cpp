// Socket: connecting (resolution on a thread, non-blocking connect on the loop), listening and
// accepting, on top of IOChannel. The state lives in a SocketCore shared with the callbacks of
// the loop and of the resolver thread, which hold it weakly; `owner` is null once the Socket
// is gone.
//
// Threads: loop thread only (the resolver thread only computes candidates; its result is
// delivered on the loop thread).

#include <kaa/detail/loop.hpp>
#include <kaa/detail/syscalls.hpp>
#include <kaa/socket.hpp>
#include <kaa/thread.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

namespace kaa {

namespace detail {

namespace {

constexpr auto kAcceptRetry = std::chrono::milliseconds(50);  // pause after EMFILE and friends
constexpr int kAcceptBatch = 64;  // accepts per readiness, so that clients are served too

[[noreturn]] void throw_errno(int e, const std::string& what) {
    throw std::system_error(e, std::generic_category(), "kaa: " + what);
}

[[noreturn]] void throw_listen(int e, const std::string& where) {
    throw std::system_error(e, std::generic_category(), "kaa: listen on " + where);
}

void apply_buffer_size(int fd, std::optional<int> size) {
    if (!size || fd < 0) return;
    int v = *size;
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
}

// True for a host that getaddrinfo resolves without a lookup.
bool numeric_host(const std::string& host) {
    if (host.empty()) return true;
    unsigned char buf[sizeof(in6_addr)];
    return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
           ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

/// One connect() call: the candidates and the fd being connected.
struct ConnectAttempt {
    InProgress<void> ip;
    std::vector<ResolvedAddress> candidates;
    std::size_t next = 0;
    std::exception_ptr first_error;
    std::optional<InProgress<std::vector<ResolvedAddress>>> resolving;
    bool done = false;
};

struct SocketCore;

/// An fd watcher that knows its core.
struct SocketWatch : IoWatcher {
    SocketCore* core = nullptr;
};

struct SocketCore : std::enable_shared_from_this<SocketCore> {
    Socket* owner = nullptr;         // null once the Socket is destroyed
    std::optional<int> buffer_size;  // the owner's, for the fds made here
    std::string reqhost;
    std::optional<SocketAddress> peer;

    // connecting
    std::shared_ptr<ConnectAttempt> attempt;  // set while connecting
    int connect_fd = -1;
    SocketWatch connect_watch;

    // listening
    bool listening = false;
    int listen_fd = -1;
    std::string unix_path;  // unlinked on close
    SocketWatch accept_watch;
    bool paused = false;
    struct RetryTimer : TimerNode {
        SocketCore* core = nullptr;
    } retry;
    std::optional<InProgress<std::shared_ptr<Socket>>> accept_ip;
    // Made on first use (listening sockets only need them).
    std::unique_ptr<Signal<>> connecting_sig;
    std::unique_ptr<Signal<const std::shared_ptr<Socket>&>> new_client_sig;

    SocketCore() {
        connect_watch.core = this;
        connect_watch.write = true;
        connect_watch.ready = [](IoWatcher* w) {
            static_cast<SocketWatch*>(w)->core->on_connect_ready();
        };
        accept_watch.core = this;
        accept_watch.ready = [](IoWatcher* w) {
            static_cast<SocketWatch*>(w)->core->on_accept_ready();
        };
        retry.core = this;
        retry.fire = [](TimerNode* n) { static_cast<RetryTimer*>(n)->core->resume_accept(); };
    }
    ~SocketCore() {
        io_unregister(&connect_watch);
        io_unregister(&accept_watch);
        timer_cancel(&retry);
        if (connect_fd >= 0) ::close(connect_fd);
        if (listen_fd >= 0) ::close(listen_fd);
    }

    // ------------------------------------------------ connecting

    // Starts a connect; returns its InProgress (maybe finished already).
    InProgress<void> start_connect(const SocketAddress& address, bool ipv6) {
        auto a = std::make_shared<ConnectAttempt>();
        InProgress<void> result = a->ip;
        attempt = a;
        reqhost = address.is_unix() ? address.path : address.host;
        std::weak_ptr<ConnectAttempt> wa = a;
        a->ip.connect_abort([weak = weak_from_this(), wa](const InProgressAborted&) {
            auto c = weak.lock();
            auto a = wa.lock();
            if (!a) return;
            if (c && c->attempt == a) c->cancel_connect();
            a->done = true;
        });
        if (address.is_unix() || numeric_host(address.host)) {
            try {
                a->candidates = resolve_address(address, {.passive = false, .ipv6 = ipv6});
            } catch (...) {
                fail_connect(std::current_exception());
                return result;
            }
            try_next();
            return result;
        }
        auto resolver = threaded([](SocketAddress addr, bool v6) {
            return resolve_address(addr, {.passive = false, .ipv6 = v6});
        });
        InProgress<std::vector<ResolvedAddress>> r = resolver(address, ipv6);
        a->resolving = r;
        r.connect_both(
            [weak = weak_from_this(), wa](const std::vector<ResolvedAddress>& found) {
                auto c = weak.lock();
                auto a = wa.lock();
                if (!c || !a || a->done || c->attempt != a) return;
                a->resolving.reset();
                a->candidates = found;
                c->try_next();
            },
            [weak = weak_from_this(), wa](std::exception_ptr e) {
                auto c = weak.lock();
                auto a = wa.lock();
                if (!c || !a || a->done || c->attempt != a) return false;
                a->resolving.reset();
                c->fail_connect(e);
                return false;  // handled: it fails the connect instead
            });
        return result;
    }

    // Tries the candidates from `next` on until one is connected or in progress.
    void try_next() {
        auto a = attempt;
        while (a && a->next < a->candidates.size()) {
            const ResolvedAddress& cand = a->candidates[a->next++];
            int fd = ::socket(cand.family, cand.socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                              cand.protocol);
            if (fd < 0) {
                note_error(errno, cand);
                continue;
            }
            apply_buffer_size(fd, buffer_size);
            int r = detail::sys().connect(fd, cand.get(), cand.length);
            if (r == 0) {
                connected(fd, cand.address());
                return;
            }
            if (errno == EINPROGRESS || errno == EINTR) {
                connect_fd = fd;
                io_register(&connect_watch, fd, true);
                return;
            }
            note_error(errno, cand);
            ::close(fd);
        }
        if (!a) return;
        fail_connect(a->first_error ? a->first_error
                                    : std::make_exception_ptr(
                                          SocketError("kaa: connect: no address to connect to")));
    }

    void note_error(int e, const ResolvedAddress& cand) {
        if (attempt && !attempt->first_error) {
            attempt->first_error = std::make_exception_ptr(std::system_error(
                e, std::generic_category(), "kaa: connect to " + cand.address().to_string()));
        }
    }

    void on_connect_ready() {
        auto keep = shared_from_this();
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(connect_fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        io_unregister(&connect_watch);
        const int fd = std::exchange(connect_fd, -1);
        auto a = attempt;
        if (!a) {
            ::close(fd);
            return;
        }
        const ResolvedAddress& cand = a->candidates[a->next - 1];
        if (err == 0) {
            connected(fd, cand.address());
            return;
        }
        note_error(err, cand);
        ::close(fd);
        try_next();
    }

    void connected(int fd, const SocketAddress& where) {
        auto keep = shared_from_this();
        auto a = std::exchange(attempt, nullptr);
        a->done = true;
        if (!owner) {
            ::close(fd);
            return;
        }
        peer = where;
        owner->adopt_connected(fd);
        a->ip.finish();
    }

    void fail_connect(std::exception_ptr e) {
        auto keep = shared_from_this();
        auto a = std::exchange(attempt, nullptr);  // Q14: connecting() is false again
        if (!a) return;
        a->done = true;
        if (connect_fd >= 0) {
            io_unregister(&connect_watch);
            ::close(std::exchange(connect_fd, -1));
        }
        if (!a->ip.finished()) a->ip.throw_exception(e);
    }

    // The attempt's InProgress is being aborted: stop everything, leave the InProgress alone.
    void cancel_connect() {
        auto a = std::exchange(attempt, nullptr);
        if (connect_fd >= 0) {
            io_unregister(&connect_watch);
            ::close(std::exchange(connect_fd, -1));
        }
        if (a && a->resolving && !a->resolving->finished()) {
            try {
                a->resolving->abort();
            } catch (...) {
            }
        }
    }

    // ------------------------------------------------ listening

    void stop_listening() {
        if (!listening) return;
        listening = false;
        paused = false;
        io_unregister(&accept_watch);
        timer_cancel(&retry);
        ::close(std::exchange(listen_fd, -1));
        if (!unix_path.empty()) {
            ::unlink(unix_path.c_str());
            unix_path.clear();
        }
    }

    void pause_accept() {
        paused = true;
        io_unregister(&accept_watch);
        timer_arm(&retry, refresh_now() + std::chrono::duration_cast<Duration>(kAcceptRetry));
    }

    void resume_accept() {
        if (!listening || !paused) return;
        paused = false;
        io_register(&accept_watch, listen_fd, false);
    }

    void on_accept_ready() {
        auto keep = shared_from_this();
        for (int i = 0; i < kAcceptBatch && listening && owner; ++i) {
            sockaddr_storage ss{};
            socklen_t len = sizeof ss;
            int fd = detail::sys().accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len,
                                           SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                const int e = errno;
                if (e == EINTR || e == ECONNABORTED || e == EPROTO) continue;
                if (e == EAGAIN || e == EWOULDBLOCK) return;
                // EMFILE, ENFILE, ENOBUFS, ENOMEM (or anything unexpected): stop watching the
                // listening fd for a while instead of spinning on it.
                pause_accept();
                if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM) {
                    report_exception(std::make_exception_ptr(std::system_error(
                                         e, std::generic_category(), "kaa: accept")),
                                     "Socket: accept failed");
                }
                return;
            }
            if (connecting_sig && !connecting_sig->emit()) {
                ::close(fd);
                continue;
            }
            if (!owner || !listening) {
                ::close(fd);
                return;
            }
            auto client = std::make_shared<Socket>(buffer_size, owner->chunk_size());
            if (len <= sizeof client->peer_raw_) {
                std::memcpy(client->peer_raw_, &ss, len);
                client->peer_len_ = static_cast<std::uint8_t>(len);
            } else {
                try {
                    client->core().peer = address_from_sockaddr(reinterpret_cast<sockaddr*>(&ss),
                                                                len);
                } catch (...) {
                    client->core().peer = SocketAddress();
                }
            }
            client->adopt_connected(fd);
            if (new_client_sig) new_client_sig->emit(client);
            if (accept_ip) {
                InProgress<std::shared_ptr<Socket>> ip = std::move(*accept_ip);
                accept_ip.reset();
                ip.finish(client);
            }
        }
    }
};

}  // namespace detail

// ---------------------------------------------------------------- Socket

Socket::Socket(std::optional<int> buffer_size, std::size_t chunk_size) : buffer_size_(buffer_size) {
    set_socket_mode(true);
    set_chunk_size(chunk_size);
}

detail::SocketCore& Socket::core() {
    if (!s_) {
        s_ = std::make_shared<detail::SocketCore>();
        s_->owner = this;
        s_->buffer_size = buffer_size_;
    }
    return *s_;
}

Socket::~Socket() {
    auto s = s_;
    if (!s) return;
    s->owner = nullptr;
    try {
        if (s->connecting_sig) s->connecting_sig->disconnect_all();
        if (s->new_client_sig) s->new_client_sig->disconnect_all();
        s->stop_listening();
        if (s->attempt) {
            s->fail_connect(std::make_exception_ptr(
                SocketError("kaa: connect: the socket was destroyed while connecting")));
        }
    } catch (...) {
        report_exception(std::current_exception(), "Exception while destroying a Socket");
    }
}

InProgress<void> Socket::connect(std::string_view address, bool ipv6) {
    detail::assert_loop_thread("Socket::connect()");
    if (connecting()) throw SocketError("connection already in progress");
    if (connected()) throw SocketError("socket already connected");
    if (listening()) throw SocketError("socket is listening");
    return connect(normalize_address(address), ipv6);
}

InProgress<void> Socket::connect(const SocketAddress& address, bool ipv6) {
    detail::assert_loop_thread("Socket::connect()");
    if (connecting()) throw SocketError("connection already in progress");
    if (connected()) throw SocketError("socket already connected");
    if (listening()) throw SocketError("socket is listening");
    core();
    auto keep = s_;
    return keep->start_connect(address, ipv6);
}

void Socket::listen(std::string_view address, int backlog, bool ipv6) {
    listen(normalize_address(address), backlog, ipv6);
}

void Socket::listen(int port, int backlog, bool ipv6) {
    listen(normalize_address(port), backlog, ipv6);
}

void Socket::listen(const SocketAddress& address, int backlog, bool ipv6) {
    detail::assert_loop_thread("Socket::listen()");
    if (connecting() || IOChannel::alive() || listening()) {
        throw SocketError("kaa: listen: the socket is already connected or listening");
    }
    std::vector<ResolvedAddress> cands;
    if (address.is_unix()) {
        cands.push_back(unix_sockaddr(address.path));
        struct stat st {};
        if (::lstat(address.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
            // A live socket there is in use; a dead one (nobody accepts) is replaced.
            int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            int r = ::connect(probe, cands[0].get(), cands[0].length);
            int e = errno;
            ::close(probe);
            if (r == 0) detail::throw_listen(EADDRINUSE, address.path);
            if (e == ECONNREFUSED) ::unlink(address.path.c_str());
        }
    } else {
        cands = resolve_address(address, {.passive = true, .ipv6 = ipv6});
    }
    if (cands.empty()) throw SocketError("kaa: listen: no address for " + address.to_string());
    const ResolvedAddress& c = cands.front();
    int fd = ::socket(c.family, c.socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, c.protocol);
    if (fd < 0) detail::throw_errno(errno, "listen: socket");
    if (c.family != AF_UNIX) {
        int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    detail::apply_buffer_size(fd, buffer_size_);
    if (::bind(fd, c.get(), c.length) != 0 || ::listen(fd, backlog) != 0) {
        int e = errno;
        ::close(fd);
        detail::throw_listen(e, address.to_string());
    }
    detail::SocketCore& sc = core();
    sc.listen_fd = fd;
    sc.listening = true;
    sc.unix_path = address.is_unix() ? address.path : std::string();
    try {
        detail::io_register(&sc.accept_watch, fd, false);
    } catch (...) {
        sc.stop_listening();
        throw;
    }
}

InProgress<std::shared_ptr<Socket>> Socket::accept() {
    detail::assert_loop_thread("Socket::accept()");
    if (!listening()) throw SocketError("kaa: accept: the socket is not listening");
    if (!s_->accept_ip) s_->accept_ip = InProgress<std::shared_ptr<Socket>>();
    return *s_->accept_ip;
}

Signal<>& Socket::new_client_connecting_signal() {
    detail::SocketCore& c = core();
    if (!c.connecting_sig) c.connecting_sig = std::make_unique<Signal<>>();
    return *c.connecting_sig;
}

Signal<const std::shared_ptr<Socket>&>& Socket::new_client_signal() {
    detail::SocketCore& c = core();
    if (!c.new_client_sig) {
        c.new_client_sig = std::make_unique<Signal<const std::shared_ptr<Socket>&>>();
    }
    return *c.new_client_sig;
}

InProgress<std::string> Socket::read() {
    if (connecting()) return pending_read(false);
    return IOChannel::read();
}

InProgress<std::string> Socket::readline() {
    if (connecting() && readline_signal().count() == 0) return pending_read(true);
    return IOChannel::readline();
}

InProgress<void> Socket::close(bool immediate) {
    detail::assert_loop_thread("Socket::close()");
    auto keep = s_;
    if (!keep) return IOChannel::close(immediate);
    if (keep->listening) {
        keep->stop_listening();
        if (keep->accept_ip) {
            InProgress<std::shared_ptr<Socket>> ip = std::move(*keep->accept_ip);
            keep->accept_ip.reset();
            ip.throw_exception(SocketError("kaa: accept: the socket was closed"));
        }
        closed_signal().emit(true);
        return InProgress<void>().finish();
    }
    if (keep->attempt) {
        keep->fail_connect(
            std::make_exception_ptr(SocketError("kaa: connect: the socket was closed")));
    }
    return IOChannel::close(immediate);
}

bool Socket::connected() const { return IOChannel::alive() && !listening(); }
bool Socket::connecting() const { return s_ && s_->attempt != nullptr; }
bool Socket::listening() const { return s_ && s_->listening; }
bool Socket::alive() const { return IOChannel::alive() || connecting() || listening(); }
bool Socket::readable() const { return IOChannel::readable() || connecting(); }
int Socket::fileno() const { return listening() ? s_->listen_fd : IOChannel::fileno(); }

SocketAddress Socket::local() const {
    int fd = fileno();
    if (fd < 0) throw std::system_error(EBADF, std::generic_category(), "kaa: local()");
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
        detail::throw_errno(errno, "local(): getsockname");
    }
    return address_from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

SocketAddress Socket::peer() const {
    if (s_ && s_->peer) return *s_->peer;
    if (peer_len_ == 0) throw SocketError("kaa: peer(): the socket is not connected");
    try {
        return address_from_sockaddr(reinterpret_cast<const sockaddr*>(peer_raw_), peer_len_);
    } catch (const std::exception&) {
        return SocketAddress();  // a family this library does not name
    }
}

const std::string& Socket::requested_host() const {
    static const std::string none;
    return s_ ? s_->reqhost : none;
}

std::optional<int> Socket::buffer_size() const { return buffer_size_; }

void Socket::set_buffer_size(int bytes) {
    buffer_size_ = bytes;
    if (s_) s_->buffer_size = bytes;
    detail::apply_buffer_size(fileno(), bytes);
}

void Socket::set_close_on_eof(bool on) {
    if (!on) throw std::invalid_argument("close_on_eof cannot be False for sockets");
    IOChannel::set_close_on_eof(true);
}

bool Socket::accept_paused() const { return s_ && s_->paused; }

void Socket::adopt_connected(int fd) {
    detail::apply_buffer_size(fd, buffer_size_);
    IOChannelOptions o;
    o.chunk_size = chunk_size();
    o.queue_size = queue_size();
    o.delimiter = delimiter();
    wrap(fd, std::move(o));
    IOChannel::set_close_on_eof(true);
}

}  // namespace kaa
