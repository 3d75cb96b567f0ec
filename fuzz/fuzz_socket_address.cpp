// libFuzzer target: kaa's address notation (include/kaa/socket_address.hpp, docs/semantics.md
// [io.address]). Whatever the input, the parser returns a value or throws std::invalid_argument /
// kaa::SocketError with a "kaa: " message; it never crashes, leaks or hits undefined behaviour.
// Where the contract gives them, the fuzzer checks properties too:
//   - to_string() round-trips: normalize_address(a.to_string()) == a for every parsed address;
//   - a numeric port ("host:0080", "[v6]:65536") is its decimal value, or rejected above 65535;
//   - two or more ':' without brackets is the bare-IPv6 error; a path is kept or put in tempdir;
//   - the (host, port, flowinfo, scope) forms keep their fields or reject the port;
//   - unix_sockaddr() / address_from_sockaddr() agree with each other.
//
// Input: the first byte picks the entry point, the rest is its argument.

#include <kaa/errors.hpp>
#include <kaa/socket_address.hpp>

#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace {

[[noreturn]] void fail(const char* what, std::string_view input) {
    std::fprintf(stderr, "fuzz_socket_address: %s (input '%.*s')\n", what,
                 static_cast<int>(input.size()), input.data());
    __builtin_trap();
}

void check(bool ok, const char* what, std::string_view input) {
    if (!ok) fail(what, input);
}

bool starts_with_kaa(const std::exception& e) {
    return std::string_view(e.what()).rfind("kaa: ", 0) == 0;
}

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

// The decimal value of a digit string, or nullopt if it is above 65535.
std::optional<unsigned> port_value(std::string_view digits) {
    while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
    if (digits.size() > 5) return std::nullopt;
    unsigned v = 0;
    for (char c : digits) v = v * 10 + static_cast<unsigned>(c - '0');
    if (v > 65535) return std::nullopt;
    return v;
}

// The port part of a spec the reference can judge: "host:DIGITS" or "[v6]:DIGITS" (no scope).
std::optional<std::string_view> numeric_port_part(std::string_view spec) {
    std::size_t colon;
    if (!spec.empty() && spec.front() == '[') {
        auto close = spec.find(']');
        if (close == std::string_view::npos || close + 1 >= spec.size() || spec[close + 1] != ':')
            return std::nullopt;
        colon = close + 1;
    } else {
        colon = spec.find(':');
        if (colon == std::string_view::npos || spec.find(':', colon + 1) != std::string_view::npos)
            return std::nullopt;
    }
    std::string_view port = spec.substr(colon + 1);
    if (!all_digits(port)) return std::nullopt;
    return port;
}

template <class F>
void expect_value_or_error(std::string_view input, F&& f) {
    try {
        f();
    } catch (const std::invalid_argument& e) {
        check(starts_with_kaa(e), "invalid_argument without a 'kaa: ' message", input);
    } catch (const kaa::SocketError& e) {
        check(starts_with_kaa(e), "SocketError without a 'kaa: ' message", input);
    } catch (const std::system_error& e) {
        check(starts_with_kaa(e), "system_error without a 'kaa: ' message", input);
    } catch (...) {
        fail("unexpected exception type", input);
    }
}

void fuzz_spec(std::string spec) {
    // A relative name without ':' becomes $TMPDIR/kaa-<uid>/<name> and tempfile() creates the
    // directories in it: keep the fuzzer from making a tree of them (or climbing out with "..").
    if (!spec.empty() && spec.front() != '[' && spec.front() != '/' &&
        spec.find(':') == std::string::npos) {
        for (char& c : spec) {
            if (c == '/') c = '_';
        }
    }
    const std::string_view in = spec;
    const auto colons = std::count(spec.begin(), spec.end(), ':');
    const auto port_part = numeric_port_part(in);
    const std::optional<unsigned> want_port = port_part ? port_value(*port_part)
                                                        : std::optional<unsigned>();
    // "host:PORT%SCOPE" with digits on both sides: the scope is its decimal value (32 bits).
    std::optional<std::uint64_t> want_scope;
    bool scope_too_large = false;
    if (!port_part && !in.empty() && in.front() != '[' && colons == 1) {
        auto colon = in.find(':');
        auto pct = in.find('%', colon);
        if (pct != std::string_view::npos && all_digits(in.substr(colon + 1, pct - colon - 1)) &&
            port_value(in.substr(colon + 1, pct - colon - 1)) && all_digits(in.substr(pct + 1))) {
            std::string_view digits = in.substr(pct + 1);
            while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
            if (digits.size() > 10) {
                scope_too_large = true;
            } else {
                std::uint64_t v = 0;
                for (char c : digits) v = v * 10 + static_cast<std::uint64_t>(c - '0');
                if (v > 0xffffffffULL) {
                    scope_too_large = true;
                } else {
                    want_scope = v;
                }
            }
        }
    }

    std::optional<kaa::SocketAddress> got;
    bool invalid = false;
    std::string message;
    try {
        got = kaa::normalize_address(in);
    } catch (const std::invalid_argument& e) {
        invalid = true;
        message = e.what();
        check(starts_with_kaa(e), "invalid_argument without a 'kaa: ' message", in);
    } catch (const kaa::SocketError& e) {
        message = e.what();
        check(starts_with_kaa(e), "SocketError without a 'kaa: ' message", in);
    } catch (const std::system_error& e) {
        message = e.what();
        check(starts_with_kaa(e), "system_error without a 'kaa: ' message", in);
    } catch (...) {
        fail("unexpected exception type", in);
    }
    if (!in.empty() && in.front() != '[' && colons >= 2) {
        check(invalid &&
                  message.find("perhaps ipv6 address is not wrapped in []?") != std::string::npos,
              "a bare IPv6 address was not rejected with kaa's message", in);
        return;
    }
    if (port_part && !want_port) {
        // (another problem, such as an unknown scope, may be the one reported)
        check(invalid, "a port above 65535 was not rejected", in);
        return;
    }
    if (scope_too_large) {
        check(invalid, "a scope id above 2^32-1 was accepted", in);
        return;
    }
    if (want_scope) check(got.has_value(), "a valid numeric scope was rejected", in);
    if (!got) return;
    const kaa::SocketAddress& a = *got;
    if (want_scope) check(a.scope_id == *want_scope, "numeric scope parsed wrongly", in);
    if (a.is_unix()) {
        check(colons == 0 && in.front() != '[', "a Unix path from an address with ':' or '['", in);
        if (in.front() == '/') {
            check(a.path == in, "an absolute path was not kept as given", in);
        } else {
            check(a.path.size() > in.size() && a.path.compare(a.path.size() - in.size() - 1,
                                                              std::string::npos, "/" + spec) == 0,
                  "a relative name is not <tempdir>/<name>", in);
        }
    } else {
        check(a.flowinfo == 0, "a parsed address has a flowinfo", in);
        if (want_port) check(a.port == *want_port, "numeric port parsed wrongly", in);
    }
    // to_string() round-trips ([io.address], SocketAddress::to_string()).
    const std::string text = a.to_string();
    std::optional<kaa::SocketAddress> again;
    try {
        again = kaa::normalize_address(text);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "to_string() gave '%s', which fails: %s\n", text.c_str(), e.what());
        fail("to_string() does not parse back", in);
    }
    if (!(*again == a)) {
        std::fprintf(stderr, "to_string() gave '%s'\n", text.c_str());
        fail("to_string() does not round-trip", in);
    }
}

void fuzz_tuple(const std::uint8_t* data, std::size_t size) {
    if (size < 12) return;
    std::int32_t port;
    std::uint32_t flowinfo, scope;
    std::memcpy(&port, data, 4);
    std::memcpy(&flowinfo, data + 4, 4);
    std::memcpy(&scope, data + 8, 4);
    // Mostly ports near the valid range.
    if (port % 4 != 0) port = port % 70000;
    std::string host(reinterpret_cast<const char*>(data + 12), size - 12);
    try {
        auto a = kaa::normalize_address(host, port, flowinfo, scope);
        check(port >= 0 && port <= 65535, "an out-of-range port was accepted", host);
        check(!a.is_unix() && a.port == port && a.flowinfo == flowinfo && a.scope_id == scope,
              "the tuple form changed a field", host);
        std::string_view h = host;
        if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
        check(a.host == h, "the tuple form changed the host", host);
        if (flowinfo == 0 && scope == 0) {
            check(kaa::normalize_address(host, port) == a, "pair and quadruple disagree", host);
        }
    } catch (const std::invalid_argument& e) {
        check(port < 0 || port > 65535, "a valid port was rejected", host);
        check(starts_with_kaa(e), "invalid_argument without a 'kaa: ' message", host);
    }
}

void fuzz_sockaddr(const std::uint8_t* data, std::size_t size) {
    sockaddr_storage storage{};
    std::memcpy(&storage, data, std::min(size, sizeof storage));
    // Mostly families the function knows.
    static constexpr sa_family_t kFamilies[] = {AF_INET, AF_INET6, AF_UNIX};
    if (size > 0 && data[0] < 200) storage.ss_family = kFamilies[data[0] % 3];
    const auto length = static_cast<socklen_t>(std::min(size, sizeof storage));
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    expect_value_or_error(in, [&] {
        auto a = kaa::address_from_sockaddr(reinterpret_cast<const sockaddr*>(&storage), length);
        if (a.is_unix()) {
            check(a.path.find('\0') == std::string::npos, "a Unix path with a NUL", in);
            if (!a.path.empty()) {
                check(kaa::unix_sockaddr(a.path).address() == a, "unix_sockaddr() round trip", in);
            }
        } else {
            check(storage.ss_family == AF_INET || storage.ss_family == AF_INET6,
                  "an inet address from another family", in);
        }
    });
}

void fuzz_unix_path(std::string_view path) {
    try {
        auto r = kaa::unix_sockaddr(path);
        check(!path.empty() && path.size() < sizeof(sockaddr_un{}.sun_path) &&
                  path.find('\0') == std::string_view::npos,
              "an impossible Unix path was accepted", path);
        check(r.family == AF_UNIX &&
                  r.address() == kaa::SocketAddress::unix_socket(std::string(path)),
              "unix_sockaddr() does not give its path back", path);
        auto list = kaa::resolve_address(kaa::SocketAddress::unix_socket(std::string(path)));
        check(list.size() == 1 && list[0].address().path == path, "resolve_address() of a path",
              path);
    } catch (const std::invalid_argument& e) {
        check(path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path) ||
                  path.find('\0') != std::string_view::npos,
              "a valid Unix path was rejected", path);
        check(starts_with_kaa(e), "invalid_argument without a 'kaa: ' message", path);
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // tempfile() creates $TMPDIR/kaa-<uid>: use a private directory, removed at exit by nobody
    // (it holds one empty directory).
    static char dir[] = "/tmp/kaa-fuzz-address-XXXXXX";
    if (::mkdtemp(dir) == nullptr) {
        std::perror("mkdtemp");
        std::abort();
    }
    ::setenv("TMPDIR", dir, 1);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t mode = data[0];
    ++data;
    --size;
    const std::string_view rest(reinterpret_cast<const char*>(data), size);
    switch (mode % 4) {
        case 0:
            fuzz_spec(std::string(rest));
            break;
        case 1:
            fuzz_tuple(data, size);
            break;
        case 2:
            fuzz_sockaddr(data, size);
            break;
        default:
            fuzz_unix_path(rest);
            break;
    }
    return 0;
}
