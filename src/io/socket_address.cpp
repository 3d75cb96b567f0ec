// kaa's address notation and its resolution (docs/semantics.md [io.address]).

#include <kaa/errors.hpp>
#include <kaa/socket_address.hpp>

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace kaa {

namespace {

constexpr std::string_view kBareIpv6 =
    "kaa: Invalid hostname: perhaps ipv6 address is not wrapped in []?";

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::uint16_t checked_port(long long port, std::string_view spec) {
    if (port < 0 || port > 65535) {
        std::string text = "kaa: port " + std::to_string(port) + " out of range (0..65535)";
        if (!spec.empty()) text += " in " + quoted(spec);
        throw std::invalid_argument(text);
    }
    return static_cast<std::uint16_t>(port);
}

// A dotted IPv4 address in kaa's sense: four groups of digits (no range check, as kaa's regex).
bool looks_ipv4(std::string_view s) {
    int groups = 0;
    std::size_t i = 0;
    while (true) {
        std::size_t start = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        if (i == start) return false;
        ++groups;
        if (i == s.size()) return groups == 4;
        if (s[i] != '.' || groups == 4) return false;
        ++i;
    }
}

// "80", "http": a port number or a TCP service name.
std::uint16_t parse_port(std::string_view text, std::string_view spec) {
    if (text.empty()) throw std::invalid_argument("kaa: missing port in " + quoted(spec));
    if (all_digits(text)) {
        // Leading zeros are no reason to reject ("0080" is 80); more than 6 digits left are
        // out of range anyway (and cut short so that stoll cannot overflow).
        while (text.size() > 1 && text.front() == '0') text.remove_prefix(1);
        if (text.size() > 6) text = text.substr(0, 6);
        return checked_port(std::stoll(std::string(text)), spec);
    }
    std::string name(text);
    // getservbyname() is not thread-safe; getservbyname_r() is.
    servent entry{};
    servent* found = nullptr;
    char buffer[1024];
    if (::getservbyname_r(name.c_str(), "tcp", &entry, buffer, sizeof buffer, &found) != 0 ||
        found == nullptr)
        throw SocketError("kaa: unknown service " + quoted(name) + " in " + quoted(spec));
    return ntohs(static_cast<std::uint16_t>(found->s_port));
}

// "1" or "eth0": an interface index.
std::uint32_t parse_scope(std::string_view text, std::string_view spec) {
    if (text.empty()) throw std::invalid_argument("kaa: empty scope after '%' in " + quoted(spec));
    if (all_digits(text)) {
        while (text.size() > 1 && text.front() == '0') text.remove_prefix(1);  // as the port
        if (text.size() > 10)
            throw std::invalid_argument("kaa: scope id too large in " + quoted(spec));
        unsigned long long v = std::stoull(std::string(text));
        if (v > 0xffffffffULL)
            throw std::invalid_argument("kaa: scope id too large in " + quoted(spec));
        return static_cast<std::uint32_t>(v);
    }
    std::string name(text);
    unsigned index = ::if_nametoindex(name.c_str());
    if (index == 0)
        throw std::invalid_argument("kaa: unknown network interface " + quoted(name) + " in " +
                                    quoted(spec));
    return index;
}

// "port" or "port%scope" after the host's ':'.
void parse_port_and_scope(std::string_view rest, std::string_view spec, SocketAddress& out) {
    auto pct = rest.find('%');
    out.port = parse_port(rest.substr(0, pct), spec);
    if (pct != std::string_view::npos) out.scope_id = parse_scope(rest.substr(pct + 1), spec);
}

std::string tmp_base() {
    const char* env = std::getenv("TMPDIR");
    std::string dir = (env != nullptr && *env != '\0') ? env : "/tmp";
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    return dir + "/kaa-" + std::to_string(::getuid());
}

void make_dir(const std::string& dir, mode_t mode) {
    if (::mkdir(dir.c_str(), mode) == 0 || errno == EEXIST) return;
    throw std::system_error(errno, std::generic_category(), "kaa: cannot create directory " + dir);
}

}  // namespace

SocketAddress SocketAddress::inet(std::string host, std::uint16_t port, std::uint32_t flowinfo,
                                  std::uint32_t scope_id) {
    SocketAddress a;
    a.host = std::move(host);
    a.port = port;
    a.flowinfo = flowinfo;
    a.scope_id = scope_id;
    return a;
}

SocketAddress SocketAddress::unix_socket(std::string path) {
    SocketAddress a;
    a.kind = Kind::unix_path;
    a.path = std::move(path);
    return a;
}

std::string SocketAddress::to_string() const {
    if (is_unix()) return path;
    // Brackets for an IPv6 address, and for a host that starts with '[' (which only the
    // bracketed form gives back: "[[x]:80" is the host "[x").
    const bool bracket = host.find(':') != std::string::npos ||
                         (!host.empty() && host.front() == '[');
    std::string s = bracket ? "[" + host + "]" : host;
    s += ":" + std::to_string(port);
    if (scope_id != 0) s += "%" + std::to_string(scope_id);
    return s;
}

bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept {
    if (a.kind != b.kind) return false;
    if (a.is_unix()) return a.path == b.path;
    return a.host == b.host && a.port == b.port && a.flowinfo == b.flowinfo &&
           a.scope_id == b.scope_id;
}

SocketAddress normalize_address(int port) {
    return SocketAddress::inet("", checked_port(port, {}));
}

SocketAddress normalize_address(std::string_view spec) {
    SocketAddress out;
    if (spec.empty()) throw std::invalid_argument("kaa: empty address");

    if (spec.front() == '[') {
        // [v6], [v6]:port, [v6%scope]:port, [v6]:port%scope
        auto close = spec.find(']');
        if (close == std::string_view::npos)
            throw std::invalid_argument("kaa: missing ']' in address " + quoted(spec));
        std::string_view inside = spec.substr(1, close - 1);
        auto pct = inside.find('%');
        if (pct != std::string_view::npos) {
            out.scope_id = parse_scope(inside.substr(pct + 1), spec);
            inside = inside.substr(0, pct);
        }
        if (inside.empty()) throw std::invalid_argument("kaa: empty host in " + quoted(spec));
        out.host = std::string(inside);
        std::string_view rest = spec.substr(close + 1);
        if (rest.empty()) return out;
        if (rest.front() != ':')
            throw std::invalid_argument("kaa: expected ':' after ']' in " + quoted(spec));
        std::uint32_t scope = out.scope_id;
        parse_port_and_scope(rest.substr(1), spec, out);
        if (scope != 0 && out.scope_id != scope)
            throw std::invalid_argument("kaa: two scopes in " + quoted(spec));
        if (scope != 0) out.scope_id = scope;
        return out;
    }

    auto colons = std::count(spec.begin(), spec.end(), ':');
    if (colons == 0) {
        if (looks_ipv4(spec)) {
            out.host = std::string(spec);
            return out;
        }
        if (spec.front() == '/') return SocketAddress::unix_socket(std::string(spec));
        return SocketAddress::unix_socket(tempfile(spec));
    }
    if (colons > 1) throw std::invalid_argument(std::string(kBareIpv6) + " (" + quoted(spec) + ")");

    auto colon = spec.find(':');
    out.host = std::string(spec.substr(0, colon));
    parse_port_and_scope(spec.substr(colon + 1), spec, out);
    return out;
}

SocketAddress normalize_address(std::string_view host, int port) {
    return normalize_address(host, port, 0, 0);
}

SocketAddress normalize_address(std::string_view host, int port, std::uint32_t flowinfo,
                                std::uint32_t scope_id) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    return SocketAddress::inet(std::string(host), checked_port(port, {}), flowinfo, scope_id);
}

std::string tempfile(std::string_view name) {
    std::string base = tmp_base();
    make_dir(base, 0700);
    std::string path = base;
    // Create the directories `name` contains, as kaa.tempfile does (os.makedirs).
    std::size_t start = 0;
    while (start < name.size() && name[start] == '/') ++start;
    while (true) {
        auto slash = name.find('/', start);
        if (slash == std::string_view::npos) break;
        if (slash > start) {
            path += "/" + std::string(name.substr(start, slash - start));
            make_dir(path, 0700);
        }
        start = slash + 1;
    }
    return path + "/" + std::string(name.substr(start));
}

SocketAddress ResolvedAddress::address() const { return address_from_sockaddr(get(), length); }

ResolvedAddress unix_sockaddr(std::string_view path) {
    ResolvedAddress r;
    sockaddr_un un{};
    constexpr std::size_t max_len = sizeof(un.sun_path) - 1;
    if (path.empty()) throw std::invalid_argument("kaa: empty Unix socket path");
    if (path.size() > max_len)
        throw std::invalid_argument("kaa: Unix socket path too long (" +
                                    std::to_string(path.size()) + " bytes, at most " +
                                    std::to_string(max_len) + "): " + std::string(path));
    if (path.find('\0') != std::string_view::npos)
        throw std::invalid_argument("kaa: Unix socket path contains a NUL byte");
    un.sun_family = AF_UNIX;
    std::memcpy(un.sun_path, path.data(), path.size());
    r.family = AF_UNIX;
    r.socktype = SOCK_STREAM;
    r.protocol = 0;
    std::memcpy(&r.storage, &un, sizeof un);
    r.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    return r;
}

std::vector<ResolvedAddress> resolve_address(const SocketAddress& address,
                                             const ResolveOptions& options) {
    if (address.is_unix()) {
        auto r = unix_sockaddr(address.path);
        r.socktype = options.socktype;
        return {r};
    }
    std::vector<ResolvedAddress> out;
    if (address.host.empty() && options.passive) {
        // kaa: an empty host binds AF_INET on every interface.
        sockaddr_in in{};
        in.sin_family = AF_INET;
        in.sin_port = htons(address.port);
        in.sin_addr.s_addr = htonl(INADDR_ANY);
        ResolvedAddress r;
        r.family = AF_INET;
        r.socktype = options.socktype;
        std::memcpy(&r.storage, &in, sizeof in);
        r.length = sizeof in;
        out.push_back(r);
        return out;
    }
    addrinfo hints{};
    hints.ai_family = options.ipv6 ? AF_UNSPEC : AF_INET;
    hints.ai_socktype = options.socktype;
    hints.ai_flags = AI_NUMERICSERV | (options.passive ? AI_PASSIVE : 0);
    std::string port = std::to_string(address.port);
    addrinfo* list = nullptr;
    int rc = ::getaddrinfo(address.host.empty() ? nullptr : address.host.c_str(), port.c_str(),
                           &hints, &list);
    if (rc != 0) {
        std::string reason = rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc);
        throw SocketError("kaa: cannot resolve " + quoted(address.host) + ": " + reason);
    }
    for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
        ResolvedAddress r;
        r.family = ai->ai_family;
        r.socktype = ai->ai_socktype;
        r.protocol = ai->ai_protocol;
        std::memcpy(&r.storage, ai->ai_addr, ai->ai_addrlen);
        r.length = ai->ai_addrlen;
        if (r.family == AF_INET6) {
            auto* in6 = reinterpret_cast<sockaddr_in6*>(&r.storage);
            if (address.flowinfo != 0) in6->sin6_flowinfo = htonl(address.flowinfo);
            if (address.scope_id != 0) in6->sin6_scope_id = address.scope_id;
        }
        out.push_back(r);
    }
    ::freeaddrinfo(list);
    if (out.empty())
        throw SocketError("kaa: cannot resolve " + quoted(address.host) + ": no usable address");
    return out;
}

SocketAddress address_from_sockaddr(const sockaddr* address, socklen_t length) {
    char text[INET6_ADDRSTRLEN] = {};
    switch (address->sa_family) {
        case AF_INET: {
            sockaddr_in in{};
            std::memcpy(&in, address, std::min<std::size_t>(length, sizeof in));
            ::inet_ntop(AF_INET, &in.sin_addr, text, sizeof text);
            return SocketAddress::inet(text, ntohs(in.sin_port));
        }
        case AF_INET6: {
            sockaddr_in6 in6{};
            std::memcpy(&in6, address, std::min<std::size_t>(length, sizeof in6));
            ::inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
            return SocketAddress::inet(text, ntohs(in6.sin6_port), ntohl(in6.sin6_flowinfo),
                                       in6.sin6_scope_id);
        }
        case AF_UNIX: {
            sockaddr_un un{};
            std::memcpy(&un, address, std::min<std::size_t>(length, sizeof un));
            std::size_t offset = offsetof(sockaddr_un, sun_path);
            std::size_t n = length > offset ? length - offset : 0;
            n = std::min(n, sizeof un.sun_path);
            // A pathname socket's length may or may not count the NUL; stop at the first one.
            std::size_t end = 0;
            while (end < n && un.sun_path[end] != '\0') ++end;
            return SocketAddress::unix_socket(std::string(un.sun_path, end));
        }
        default:
            throw std::invalid_argument("kaa: unsupported address family " +
                                        std::to_string(address->sa_family));
    }
}

}  // namespace kaa
