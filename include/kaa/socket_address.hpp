#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// Socket addresses: kaa's address notation (sockets.py normalize_address) turned into a
// SocketAddress, and the system calls' view of it (docs/semantics.md [io.address]).
//
//   normalize_address(80)                 -> ("", 80)          every interface / localhost
//   normalize_address("1.2.3.4:99")       -> ("1.2.3.4", 99)
//   normalize_address("[::1]:80")         -> ("::1", 80)
//   normalize_address("localhost:http")   -> ("localhost", 80)  getservbyname
//   normalize_address("fe80::1" ...)      -> std::invalid_argument: IPv6 must be in []
//   normalize_address("foo")              -> Unix socket $TMPDIR/kaa-<uid>/foo
//   normalize_address("/run/x.sock")      -> Unix socket /run/x.sock
//
// Parsing needs no network: names are kept as given and resolved later by resolve_address(),
// which blocks (getaddrinfo) and is meant for a worker thread.
//
// Threads: every function here may be called from any thread; none touches the main loop.

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kaa {

/// A TCP (IPv4 or IPv6) or Unix socket address, as kaa writes it: (host, port, flowinfo,
/// scope_id) or a path. A value type; compare with ==.
struct SocketAddress {
    /// Which of the two forms the address has.
    enum class Kind : std::uint8_t {
        inet,       ///< host, port, flowinfo, scope_id
        unix_path,  ///< path
    };
    Kind kind = Kind::inet;  ///< inet or unix_path
    /// Host name or numeric address, without brackets; "" means every interface (listen) or
    /// the local host (connect).
    std::string host;
    std::uint16_t port = 0;      ///< TCP port; 0 lets the system pick one (listen)
    std::uint32_t flowinfo = 0;  ///< IPv6 flow label (sin6_flowinfo)
    std::uint32_t scope_id = 0;  ///< IPv6 scope, an interface index (sin6_scope_id)
    std::string path;            ///< the Unix socket path (kind unix_path only)

    /// A TCP address; `host` without brackets.
    static SocketAddress inet(std::string host, std::uint16_t port, std::uint32_t flowinfo = 0,
                              std::uint32_t scope_id = 0);
    /// A Unix socket address; `path` is kept as given (no temp directory is applied).
    static SocketAddress unix_socket(std::string path);

    /// True for a Unix socket address.
    bool is_unix() const noexcept { return kind == Kind::unix_path; }

    /// kaa's notation: "host:port", "[v6]:port", "host:port%scope" (a non-zero scope_id), or
    /// the path. normalize_address() of the result gives the address back, except that the
    /// flowinfo is not written.
    std::string to_string() const;

    /// Equal kind and equal fields of that kind.
    friend bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept;
};

/// The same operator== declared at namespace scope, so that the visibility pragma exports it
/// from a shared libkaa (a friend declaration alone left it hidden).
bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept;

/// `("", port)`. Throws std::invalid_argument if `port` is not in 0..65535.
/// [io.address.1]
SocketAddress normalize_address(int port);

/// Parses kaa's string notation ([io.address.2]):
/// - no ':' : a dotted IPv4 address ("1.2.3.4", port 0); else a path starting with '/' is a
///   Unix socket as given, anything else a Unix socket named by tempfile();
/// - "host:port" with exactly one ':' (host may be empty); port is a number or a service name
///   (getservbyname, "tcp"), optionally followed by "%scope" (a number or an interface name,
///   if_nametoindex);
/// - "[v6]", "[v6]:port", "[v6%scope]:port";
/// - anything else with two or more ':' is rejected (a bare IPv6 literal is ambiguous).
/// Throws std::invalid_argument for malformed input (the message names the problem: a bare
/// IPv6 address gives kaa's "Invalid hostname: perhaps ipv6 address is not wrapped in []?"),
/// a port out of 0..65535 or an unknown interface; kaa::SocketError for an unknown service
/// ("unknown service 'xyz'").
SocketAddress normalize_address(std::string_view spec);

/// Disambiguates a string literal: normalize_address(std::string_view).
inline SocketAddress normalize_address(const char* spec) {
    return normalize_address(std::string_view(spec));
}

/// kaa's 2-tuple `(host, port)`: the host is kept as given (brackets around an IPv6 address
/// are removed). Throws std::invalid_argument if `port` is not in 0..65535. [io.address.3]
SocketAddress normalize_address(std::string_view host, int port);

/// kaa's 4-tuple `(host, port, flowinfo, scope_id)`, otherwise as the 2-tuple. [io.address.3]
SocketAddress normalize_address(std::string_view host, int port, std::uint32_t flowinfo,
                                std::uint32_t scope_id);

/// kaa.tempfile(name): `$TMPDIR/kaa-<uid>/<name>` (`/tmp` when TMPDIR is unset or empty).
/// Creates `kaa-<uid>` (mode 0700) and the directories `name` contains if they are missing;
/// throws std::system_error naming the directory if that fails. [io.address.4]
std::string tempfile(std::string_view name);

/// One candidate address for socket(2) and connect(2)/bind(2).
struct ResolvedAddress {
    int family = AF_UNSPEC;      ///< AF_INET, AF_INET6 or AF_UNIX
    int socktype = SOCK_STREAM;  ///< the socket type asked for
    int protocol = 0;            ///< for socket(2)
    sockaddr_storage storage{};  ///< the address itself
    socklen_t length = 0;        ///< its length in bytes

    /// The address as the system calls take it.
    const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
    /// The numeric address (host is the numeric form, or the path).
    SocketAddress address() const;
};

/// Options of resolve_address().
struct ResolveOptions {
    /// True for bind(2)/listen: an empty host means every interface (IPv4 0.0.0.0, as in kaa);
    /// false for connect(2): an empty host means the local host.
    bool passive = false;
    /// False restricts the candidates to IPv4 (kaa's `ipv6=False`).
    bool ipv6 = true;
    int socktype = SOCK_STREAM;  ///< SOCK_STREAM or SOCK_DGRAM
};

/// Resolves an address into the candidates to try, in the system's order (getaddrinfo with
/// AF_UNSPEC: IPv6 first where the system prefers it); flowinfo and scope_id are applied to
/// IPv6 candidates. A Unix address gives one candidate (unix_sockaddr()).
/// **Blocks** on name resolution: call it on a worker thread, not on the loop thread.
/// Throws kaa::SocketError ("cannot resolve 'host': <reason>") when nothing is found, and
/// std::invalid_argument for a Unix path that is too long. [io.address.5]
std::vector<ResolvedAddress> resolve_address(const SocketAddress& address,
                                             const ResolveOptions& options = {});

/// A sockaddr_un for `path`. Throws std::invalid_argument if the path is empty or does not
/// fit in sun_path with its terminating NUL (at most 107 bytes on Linux); the message gives
/// the length, the limit and the path. [io.address.6]
ResolvedAddress unix_sockaddr(std::string_view path);

/// The SocketAddress of a sockaddr returned by accept(2), getsockname(2) or getpeername(2):
/// numeric host, port, flowinfo and scope_id, or the Unix path ("" for an unnamed Unix
/// socket). Throws std::invalid_argument for another address family.
SocketAddress address_from_sockaddr(const sockaddr* address, socklen_t length);

}  // namespace kaa

#pragma GCC visibility pop
