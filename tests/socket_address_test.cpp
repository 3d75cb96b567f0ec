// Tests for kaa/socket_address.hpp: kaa's address notation (every row of kaa-reference §6.3's
// normalize_address table), tempfile(), resolution and sockaddr conversion. [io.address],
// [check.H117]. No main loop and no network are needed (only "localhost" and numeric hosts).

#include <kaa/errors.hpp>
#include <kaa/socket_address.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace {

using kaa::normalize_address;
using kaa::SocketAddress;

SocketAddress inet(std::string host, std::uint16_t port, std::uint32_t flowinfo = 0,
                   std::uint32_t scope = 0) {
    return SocketAddress::inet(std::move(host), port, flowinfo, scope);
}

std::string tmp_dir() {
    const char* env = std::getenv("TMPDIR");
    std::string dir = (env != nullptr && *env != '\0') ? env : "/tmp";
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    return dir + "/kaa-" + std::to_string(::getuid());
}

template <class E, class F>
std::string message_of(F f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    return "<no exception>";
}

}  // namespace

// [check.H117]
TEST(SocketAddress, PortOnlyIsEmptyHost_H117) {
    EXPECT_EQ(normalize_address(80), inet("", 80));
    EXPECT_EQ(normalize_address(0), inet("", 0));
    EXPECT_EQ(normalize_address(65535), inet("", 65535));
}

// [check.H117]
TEST(SocketAddress, Ipv4WithPort_H117) {
    EXPECT_EQ(normalize_address("1.2.3.4:99"), inet("1.2.3.4", 99));
}

TEST(SocketAddress, Ipv4WithoutPortHasPortZero) {
    EXPECT_EQ(normalize_address("1.2.3.4"), inet("1.2.3.4", 0));
}

TEST(SocketAddress, Ipv4IsNotRangeChecked) {
    // As kaa's regex: the host is resolved later, parsing does not judge it.
    EXPECT_EQ(normalize_address("300.1.1.1:5"), inet("300.1.1.1", 5));
}

TEST(SocketAddress, HostnameWithPort) {
    EXPECT_EQ(normalize_address("example.org:8080"), inet("example.org", 8080));
    EXPECT_EQ(normalize_address(":80"), inet("", 80));
}

// [check.H117]
TEST(SocketAddress, BracketedIpv6WithPort_H117) {
    EXPECT_EQ(normalize_address("[::1]:80"), inet("::1", 80));
    EXPECT_EQ(normalize_address("[fe80::1:2]:443"), inet("fe80::1:2", 443));
}

TEST(SocketAddress, BracketedIpv6WithoutPortHasPortZero) {
    EXPECT_EQ(normalize_address("[::1]"), inet("::1", 0));
}

// [check.H117]
TEST(SocketAddress, ServiceNameIsLookedUp_H117) {
    EXPECT_EQ(normalize_address("localhost:http"), inet("localhost", 80));
    EXPECT_EQ(normalize_address("[::1]:https"), inet("::1", 443));
}

TEST(SocketAddress, UnknownServiceThrowsSocketErrorNamingIt) {
    auto m = message_of<kaa::SocketError>([] { normalize_address("host:nosuchservicexyz"); });
    EXPECT_NE(m.find("unknown service 'nosuchservicexyz'"), std::string::npos) << m;
}

TEST(SocketAddress, NumericScopeAfterPort) {
    EXPECT_EQ(normalize_address("host:80%1"), inet("host", 80, 0, 1));
    EXPECT_EQ(normalize_address("[fe80::1]:80%3"), inet("fe80::1", 80, 0, 3));
    EXPECT_EQ(normalize_address("[fe80::1%4]:80"), inet("fe80::1", 80, 0, 4));
}

TEST(SocketAddress, InterfaceNameScopeUsesIfNametoindex) {
    unsigned lo = ::if_nametoindex("lo");
    if (lo == 0) GTEST_SKIP() << "no loopback interface named lo";
    EXPECT_EQ(normalize_address("[fe80::1]:80%lo"), inet("fe80::1", 80, 0, lo));
    EXPECT_EQ(normalize_address("[fe80::1%lo]:80"), inet("fe80::1", 80, 0, lo));
}

TEST(SocketAddress, UnknownInterfaceThrowsInvalidArgument) {
    auto m = message_of<std::invalid_argument>([] { normalize_address("host:80%nosuchif0"); });
    EXPECT_NE(m.find("unknown network interface 'nosuchif0'"), std::string::npos) << m;
}

// [check.H117]
TEST(SocketAddress, NameWithoutColonIsUnixPathInKaaTempDir_H117) {
    auto a = normalize_address("foo");
    ASSERT_TRUE(a.is_unix());
    EXPECT_EQ(a.path, tmp_dir() + "/foo");
    struct stat st {};
    ASSERT_EQ(::stat(tmp_dir().c_str(), &st), 0);  // created, as kaa.tempfile does
    EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST(SocketAddress, AbsolutePathIsKept) {
    EXPECT_EQ(normalize_address("/abs/sock"), SocketAddress::unix_socket("/abs/sock"));
}

TEST(SocketAddress, TempfileHonoursTmpdirAndCreatesSubdirectories) {
    const char* old = std::getenv("TMPDIR");
    std::string saved = old ? old : "";
    std::string base = testing::TempDir();
    ::setenv("TMPDIR", base.c_str(), 1);
    std::string p = kaa::tempfile("sub/x.sock");
    std::string expected_dir = tmp_dir();
    if (old) {
        ::setenv("TMPDIR", saved.c_str(), 1);
    } else {
        ::unsetenv("TMPDIR");
    }
    EXPECT_EQ(p, expected_dir + "/sub/x.sock");
    struct stat st {};
    EXPECT_EQ(::stat((expected_dir + "/sub").c_str(), &st), 0);
}

TEST(SocketAddress, PairAndQuadruple) {
    EXPECT_EQ(normalize_address("host", 80), inet("host", 80, 0, 0));
    EXPECT_EQ(normalize_address("::1", 80), inet("::1", 80));  // a pair needs no brackets
    EXPECT_EQ(normalize_address("[::1]", 80), inet("::1", 80));
    EXPECT_EQ(normalize_address("fe80::1", 80, 5, 2), inet("fe80::1", 80, 5, 2));
}

// [check.H117]
TEST(SocketAddress, BareIpv6IsRejected_H117) {
    auto m = message_of<std::invalid_argument>([] { normalize_address("1::2"); });
    EXPECT_NE(m.find("Invalid hostname: perhaps ipv6 address is not wrapped in []?"),
              std::string::npos)
        << m;
    // Q15: kaa parsed "::1" as ("", 0). Here it gets the same clear error ([io.address.2]).
    EXPECT_THROW(normalize_address("::1"), std::invalid_argument);
    EXPECT_THROW(normalize_address("a:b:c"), std::invalid_argument);
}

TEST(SocketAddress, PortOutOfRangeIsRejected) {
    auto m = message_of<std::invalid_argument>([] { normalize_address(65536); });
    EXPECT_NE(m.find("port 65536 out of range (0..65535)"), std::string::npos) << m;
    EXPECT_THROW(normalize_address(-1), std::invalid_argument);
    EXPECT_THROW(normalize_address("host:70000"), std::invalid_argument);
    EXPECT_THROW(normalize_address("host:99999999999999999999"), std::invalid_argument);
    EXPECT_THROW(normalize_address("host", 65536), std::invalid_argument);
}

TEST(SocketAddress, MalformedInputIsRejected) {
    EXPECT_THROW(normalize_address(""), std::invalid_argument);
    EXPECT_THROW(normalize_address("host:"), std::invalid_argument);
    EXPECT_THROW(normalize_address("[::1"), std::invalid_argument);
    EXPECT_THROW(normalize_address("[::1]80"), std::invalid_argument);
    EXPECT_THROW(normalize_address("[]:80"), std::invalid_argument);
    EXPECT_THROW(normalize_address("host:80%"), std::invalid_argument);
}

TEST(SocketAddress, ToStringRoundTrips) {
    for (auto a : {inet("1.2.3.4", 99), inet("::1", 80), inet("", 80), inet("fe80::1", 80, 0, 2),
                   inet("example.org", 0)}) {
        EXPECT_EQ(normalize_address(a.to_string()), a) << a.to_string();
    }
    EXPECT_EQ(inet("::1", 80).to_string(), "[::1]:80");
    EXPECT_EQ(SocketAddress::unix_socket("/a/b").to_string(), "/a/b");
}

// Found by fuzz/fuzz_socket_address: a host starting with '[' (from "[[x]") was written without
// brackets and did not parse back.
TEST(SocketAddress, ToStringRoundTripsAHostStartingWithABracket) {
    const SocketAddress a = normalize_address("[[x]:80");
    EXPECT_EQ(a, inet("[x", 80));
    EXPECT_EQ(a.to_string(), "[[x]:80");
    EXPECT_EQ(normalize_address(a.to_string()), a);
    EXPECT_EQ(normalize_address(inet("[x", 0).to_string()), inet("[x", 0));
}

// Found by fuzz/fuzz_socket_address: leading zeros counted towards the length limits, so
// "host:0000080" was port 8 and "host:80%00000000001" had a scope "too large".
TEST(SocketAddress, LeadingZerosInPortAndScopeAreIgnored) {
    EXPECT_EQ(normalize_address("host:0000080"), inet("host", 80));
    EXPECT_EQ(normalize_address("host:00000000000000065535"), inet("host", 65535));
    EXPECT_THROW(normalize_address("host:00000000000000065536"), std::invalid_argument);
    EXPECT_EQ(normalize_address("host:80%00000000001"), inet("host", 80, 0, 1));
    EXPECT_EQ(normalize_address("[::1%000000000004294967295]:1"), inet("::1", 1, 0, 4294967295u));
}

TEST(SocketAddress, EqualityComparesTheFieldsOfTheKind) {
    EXPECT_NE(inet("a", 1), inet("a", 2));
    EXPECT_NE(inet("a", 1), SocketAddress::unix_socket("a"));
    EXPECT_EQ(SocketAddress::unix_socket("/x"), SocketAddress::unix_socket("/x"));
}

TEST(SocketAddress, ResolveNumericIpv4) {
    auto list = kaa::resolve_address(inet("127.0.0.1", 8080));
    ASSERT_FALSE(list.empty());
    EXPECT_EQ(list[0].family, AF_INET);
    EXPECT_EQ(list[0].address(), inet("127.0.0.1", 8080));
}

TEST(SocketAddress, ResolveIpv6KeepsScope) {
    auto list = kaa::resolve_address(inet("::1", 80, 0, 1));
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].family, AF_INET6);
    EXPECT_EQ(list[0].address(), inet("::1", 80, 0, 1));
}

TEST(SocketAddress, ResolvePassiveEmptyHostIsIpv4Any) {
    auto list = kaa::resolve_address(inet("", 0), {.passive = true});
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].address(), inet("0.0.0.0", 0));
}

TEST(SocketAddress, ResolveWithoutIpv6GivesOnlyIpv4) {
    auto list = kaa::resolve_address(inet("localhost", 1), {.ipv6 = false});
    ASSERT_FALSE(list.empty());
    for (auto& r : list) EXPECT_EQ(r.family, AF_INET);
}

TEST(SocketAddress, ResolveFailureThrowsSocketError) {
    // .invalid never resolves (RFC 6761).
    auto m = message_of<kaa::SocketError>([] { kaa::resolve_address(inet("no.such.invalid", 1)); });
    EXPECT_NE(m.find("cannot resolve 'no.such.invalid'"), std::string::npos) << m;
}

TEST(SocketAddress, UnixSockaddrAndItsLengthLimit) {
    auto r = kaa::unix_sockaddr("/tmp/x.sock");
    EXPECT_EQ(r.family, AF_UNIX);
    EXPECT_EQ(r.address(), SocketAddress::unix_socket("/tmp/x.sock"));
    auto list = kaa::resolve_address(SocketAddress::unix_socket("/tmp/y.sock"));
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].address().path, "/tmp/y.sock");

    std::size_t max = sizeof(sockaddr_un{}.sun_path) - 1;
    EXPECT_NO_THROW(kaa::unix_sockaddr("/" + std::string(max - 1, 'a')));
    std::string too_long = "/" + std::string(max, 'a');
    auto m = message_of<std::invalid_argument>([&] { kaa::unix_sockaddr(too_long); });
    EXPECT_NE(m.find("Unix socket path too long (" + std::to_string(max + 1) + " bytes, at most " +
                     std::to_string(max) + ")"),
              std::string::npos)
        << m;
    EXPECT_THROW(kaa::unix_sockaddr(""), std::invalid_argument);
}

TEST(SocketAddress, FromSockaddrIpv4AndIpv6) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(1234);
    ::inet_pton(AF_INET, "10.0.0.1", &in.sin_addr);
    EXPECT_EQ(kaa::address_from_sockaddr(reinterpret_cast<sockaddr*>(&in), sizeof in),
              inet("10.0.0.1", 1234));
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(99);
    in6.sin6_flowinfo = htonl(7);
    in6.sin6_scope_id = 3;
    ::inet_pton(AF_INET6, "fe80::2", &in6.sin6_addr);
    EXPECT_EQ(kaa::address_from_sockaddr(reinterpret_cast<sockaddr*>(&in6), sizeof in6),
              inet("fe80::2", 99, 7, 3));
}
