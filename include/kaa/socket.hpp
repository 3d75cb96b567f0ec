#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// Socket: a TCP (IPv4, IPv6) or Unix stream socket that is an IOChannel, kaa's sockets.Socket
// (docs/semantics.md [io.socket]).
//
//   kaa::Socket s;
//   co_await s.connect("example.org:80");         // resolution on a thread, connect on the loop
//   co_await s.write("GET / HTTP/1.0\r\n\r\n");
//   std::string reply = co_await s.read();
//
//   kaa::Socket server;
//   server.listen("127.0.0.1:0");                 // port 0: any free port, see local()
//   server.new_client_signal().connect([](const std::shared_ptr<kaa::Socket>& client) { ... });
//   std::shared_ptr<kaa::Socket> next = co_await server.accept();
//
// Addresses are kaa's notation (kaa/socket_address.hpp): "host:port", "[v6]:port", a port, an
// absolute Unix path, or a bare name for a Unix socket in kaa's temp directory.
//
// Lifetime: as IOChannel; a listening socket also owns its listening fd and unlinks its Unix
// path when closed or destroyed. Destroying a connecting socket fails its connect() with
// SocketError. Accepted clients are new Sockets owned by std::shared_ptr: whoever keeps the
// pointer (the new_client callback, a coroutine) keeps the connection.
//
// Fd exhaustion: when accept(2) fails with EMFILE, ENFILE, ENOBUFS or ENOMEM, the listening fd
// is not watched for 50 ms (no busy loop) and accepting resumes afterwards; connected clients
// are served meanwhile.
//
// Threads: main-loop thread only, as IOChannel.

#include <kaa/inprogress.hpp>
#include <kaa/io_channel.hpp>
#include <kaa/signal.hpp>
#include <kaa/socket_address.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kaa {

namespace detail {
struct SocketCore;
}  // namespace detail

/// kaa's Socket: an IOChannel over a stream socket; see the file comment.
class Socket : public IOChannel {
public:
    /// A disconnected socket. `buffer_size` sets SO_SNDBUF and SO_RCVBUF of every fd it gets;
    /// `chunk_size` is the IOChannel chunk size.
    explicit Socket(std::optional<int> buffer_size = std::nullopt,
                    std::size_t chunk_size = 1024 * 1024);
    /// Closes the socket (a listening one unlinks its Unix path); a pending connect() fails.
    ~Socket() override;

    /// Connects to `address` (kaa's notation, see normalize_address()). Names are resolved on a
    /// new thread (numeric addresses and Unix paths at once), then every candidate is tried in
    /// order with a non-blocking connect on the loop. The InProgress finishes once connected,
    /// or fails with the first candidate's error (std::system_error), or kaa::SocketError if
    /// the name cannot be resolved. Abortable (so usable with timeout(..., abort = true)): an
    /// abort stops resolving and connecting. connecting() is true until it ends, either way
    /// (Q14). Throws kaa::SocketError "connection already in progress", "socket already
    /// connected", "socket is listening", and what normalize_address() throws.
    InProgress<void> connect(std::string_view address, bool ipv6 = true);
    /// As connect(string), for a parsed address.
    InProgress<void> connect(const SocketAddress& address, bool ipv6 = true);

    /// Binds to `address` with SO_REUSEADDR and listens. An empty host is every IPv4
    /// interface; port 0 picks a free port (see local()). A Unix path that exists and refuses
    /// connections is replaced; one that accepts them throws std::system_error(EADDRINUSE).
    /// Each new client is accepted as a Socket: new_client_connecting_signal() may refuse it,
    /// then new_client_signal() is emitted and accept() finishes. Throws kaa::SocketError on a
    /// connected, connecting or listening socket, std::system_error if a call fails (naming
    /// it), and what normalize_address() throws.
    void listen(std::string_view address, int backlog = 5, bool ipv6 = true);
    /// As listen(string), for a port on every IPv4 interface (kaa's listen(port)).
    void listen(int port, int backlog = 5, bool ipv6 = true);
    /// As listen(string), for a parsed address.
    void listen(const SocketAddress& address, int backlog = 5, bool ipv6 = true);
    /// The next client: the same shared InProgress until a client arrives, which finishes it
    /// (after new_client_signal()). Throws kaa::SocketError unless listening.
    InProgress<std::shared_ptr<Socket>> accept();

    /// Emitted before a client is accepted; a callback returning false refuses it (the
    /// connection is closed).
    Signal<>& new_client_connecting_signal();
    /// Emitted with each accepted client.
    Signal<const std::shared_ptr<Socket>&>& new_client_signal();

    /// As IOChannel::read(); while connecting, the read waits for the connection.
    InProgress<std::string> read() override;
    /// As IOChannel::readline(); while connecting, it waits for the connection.
    InProgress<std::string> readline() override;
    /// Closes a connected socket as IOChannel::close(); a listening one stops listening,
    /// closes its fd, unlinks its Unix path and emits closed_signal(true); a connecting one
    /// fails its connect() with kaa::SocketError.
    InProgress<void> close(bool immediate = false) override;

    /// Connected and open: not closing, not listening.
    bool connected() const;
    /// A connect() is under way.
    bool connecting() const;
    /// listen() succeeded and the socket was not closed since.
    bool listening() const;
    /// Connected, connecting or listening.
    bool alive() const override;
    /// Alive, connecting, or data queued.
    bool readable() const override;
    /// The connected or listening fd, or -1.
    int fileno() const override;

    /// The local address (getsockname): numeric host and port, or the Unix path. Throws
    /// std::system_error(EBADF) when there is no fd. (Q15: works for TCP sockets.)
    SocketAddress local() const;
    /// The peer's address (numeric), kept once connected or accepted; throws kaa::SocketError
    /// if the socket never was connected.
    SocketAddress peer() const;
    /// The host as given to connect() (kaa's reqhost), or the Unix path; "" for accepted ones.
    const std::string& requested_host() const;

    /// SO_SNDBUF/SO_RCVBUF size requested for this socket's fds, if any.
    std::optional<int> buffer_size() const;
    /// Sets SO_SNDBUF and SO_RCVBUF now (if there is an fd) and for later fds.
    void set_buffer_size(int bytes);
    /// Only true is accepted: false throws std::invalid_argument("close_on_eof cannot be False
    /// for sockets").
    void set_close_on_eof(bool on) override;

    /// Diagnostic: accepting is paused after EMFILE/ENFILE (the listening fd is not watched).
    bool accept_paused() const;

private:
    friend struct detail::SocketCore;
    // Takes a connected fd (connect() or accept()).
    void adopt_connected(int fd);
    // The connect/listen state, made on first use: an accepted client never needs it, and an
    // idle connection must be cheap (docs/semantics.md [io.socket.address]).
    detail::SocketCore& core();

    std::shared_ptr<detail::SocketCore> s_;  // null until connect(), listen() or a signal
    std::optional<int> buffer_size_;
    // An accepted client's peer, as accept(2) gave it (an IPv4 or IPv6 sockaddr, or an unnamed
    // Unix one); a longer one, or a connected socket's, is kept in the SocketCore.
    alignas(8) unsigned char peer_raw_[28] = {};
    std::uint8_t peer_len_ = 0;
};

}  // namespace kaa

#pragma GCC visibility pop
