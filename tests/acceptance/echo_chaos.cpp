// echo_chaos: the acceptance run of issue 13 against examples/echo_server, written without kaa
// (plain POSIX sockets and poll()), so that it judges the server from outside.
//
//   echo_chaos ECHO_SERVER_BINARY        (ctest: echo_server_chaos)
//
// Starts `echo_server 0` under a 512-fd limit (`ulimit -n 512`), reads the port it prints, then:
//   1. mixed rounds: well-behaved clients (random messages, every byte must come back in
//      order), clients that reset mid-message (SO_LINGER 0), send garbage and vanish, half-close
//      (shutdown(SHUT_WR), then read every byte back until EOF), or connect and vanish;
//   2. fd exhaustion: long-lived clients connect, then 700 more connections push the server past
//      its fd limit (EMFILE); the long-lived clients must still be served, the server must not
//      spin (its CPU time over one second of exhaustion is checked), and once the 700 close, a
//      new client must be accepted and served;
//   3. SIGTERM: the server must exit with status 0.
// Exits 0 when all holds, 1 with a message naming the first failure. Bounded in time: every
// wait has a deadline.

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "echo_chaos: FAILED: %s\n", what.c_str());
    std::exit(1);
}

pid_t g_server = -1;
int g_port = 0;

void stop_server_on_exit() {
    if (g_server > 0) {
        ::kill(g_server, SIGKILL);
        ::waitpid(g_server, nullptr, 0);
    }
}

/// Starts the server under `ulimit -n 512` and reads "echo_server: serving 127.0.0.1:PORT".
void start_server(const char* binary) {
    int err[2];
    if (::pipe(err) != 0) fail("pipe");
    g_server = ::fork();
    if (g_server < 0) fail("fork");
    if (g_server == 0) {
        ::dup2(err[1], 2);
        ::close(err[0]);
        ::close(err[1]);
        rlimit lim{512, 512};
        if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) _exit(126);
        ::execl(binary, binary, "0", static_cast<char*>(nullptr));
        _exit(127);
    }
    ::close(err[1]);
    std::atexit(stop_server_on_exit);
    std::string line;
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (line.find('\n') == std::string::npos) {
        pollfd p{err[0], POLLIN, 0};
        if (Clock::now() > deadline || ::poll(&p, 1, 1000) < 0) fail("server did not start");
        char buf[256];
        ssize_t n = ::read(err[0], buf, sizeof buf);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            if (n == 0) fail("server exited at start: " + line);
            continue;
        }
        line.append(buf, static_cast<std::size_t>(n));
    }
    const auto colon = line.rfind(':');
    g_port = colon == std::string::npos ? 0 : std::atoi(line.c_str() + colon + 1);
    if (g_port <= 0) fail("no port in the server's first line: " + line);
    // Leave the pipe open and unread: the server writes nothing more unless something breaks.
}

int connect_client(bool blocking = true) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail(std::string("socket: ") + std::strerror(errno));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(g_port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!blocking) ::fcntl(fd, F_SETFL, O_NONBLOCK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
        fail(std::string("connect: ") + std::strerror(errno));
    }
    return fd;
}

/// Writes all of `data`, waiting up to the deadline.
void write_all(int fd, const std::string& data, Clock::time_point deadline) {
    std::size_t off = 0;
    while (off < data.size()) {
        pollfd p{fd, POLLOUT, 0};
        if (Clock::now() > deadline) fail("write timed out");
        if (::poll(&p, 1, 200) <= 0) continue;
        ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            fail(std::string("send: ") + std::strerror(errno));
        }
        off += static_cast<std::size_t>(n);
    }
}

/// Reads exactly `size` bytes (or until EOF when size is 0), waiting up to the deadline.
std::string read_n(int fd, std::size_t size, Clock::time_point deadline, bool until_eof = false) {
    std::string out;
    char buf[65536];
    while (until_eof || out.size() < size) {
        pollfd p{fd, POLLIN, 0};
        if (Clock::now() > deadline) {
            fail("read timed out after " + std::to_string(out.size()) + " of " +
                 std::to_string(size) + " bytes");
        }
        if (::poll(&p, 1, 200) <= 0) continue;
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            fail(std::string("recv: ") + std::strerror(errno));
        }
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

std::string random_bytes(std::mt19937& rng, std::size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xff);
    return s;
}

/// A well-behaved client: `messages` random messages, each echoed back in full.
void good_client(std::mt19937& rng, int messages) {
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    int fd = connect_client();
    for (int i = 0; i < messages; ++i) {
        std::string msg = random_bytes(rng, 1 + rng() % 8192);
        write_all(fd, msg, deadline);
        if (read_n(fd, msg.size(), deadline) != msg) fail("a well-behaved client got other bytes");
    }
    ::close(fd);
}

void reset_client(std::mt19937& rng) {
    int fd = connect_client();
    write_all(fd, random_bytes(rng, 1 + rng() % 50000), Clock::now() + std::chrono::seconds(10));
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);  // RST, maybe mid-echo
}

void garbage_client(std::mt19937& rng) {
    int fd = connect_client();
    write_all(fd, random_bytes(rng, 10000), Clock::now() + std::chrono::seconds(10));
    ::close(fd);  // vanishes without reading what comes back
}

void half_close_client(std::mt19937& rng) {
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    int fd = connect_client();
    std::string msg = random_bytes(rng, 1 + rng() % 100000);
    write_all(fd, msg, deadline);
    ::shutdown(fd, SHUT_WR);
    if (read_n(fd, 0, deadline, /*until_eof=*/true) != msg) {
        fail("a half-closed client did not get every byte back before EOF");
    }
    ::close(fd);
}

void vanish_client() { ::close(connect_client()); }

/// CPU time (user + system) of `pid` in clock ticks, from /proc.
long cpu_ticks(pid_t pid) {
    std::string path = "/proc/" + std::to_string(pid) + "/stat";
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (!f) return -1;
    char buf[1024];
    std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    const char* p = std::strrchr(buf, ')');
    if (!p) return -1;
    // Fields after the command: state(3) ... utime(14) stime(15).
    long utime = 0, stime = 0;
    int field = 2;
    for (const char* q = p + 1; *q && field < 15; ++q) {
        if (*q == ' ') {
            ++field;
            if (field == 14) utime = std::strtol(q + 1, nullptr, 10);
            if (field == 15) stime = std::strtol(q + 1, nullptr, 10);
        }
    }
    return utime + stime;
}

/// How many fds `pid` has open (entries of /proc/PID/fd), or -1.
int fd_count(pid_t pid) {
    std::string path = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = ::opendir(path.c_str());
    if (!d) return -1;
    int n = 0;
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
    return n;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s ECHO_SERVER_BINARY\n", argv[0]);
        return 2;
    }
    ::signal(SIGPIPE, SIG_IGN);
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    if (lim.rlim_cur < 2000 && lim.rlim_max >= 2000) {
        lim.rlim_cur = 2000;
        ::setrlimit(RLIMIT_NOFILE, &lim);
    }
    start_server(argv[1]);
    std::mt19937 rng(12345);

    // 1. Mixed rounds, one client of each kind after another, repeatedly.
    int good = 0;
    for (int round = 0; round < 40; ++round) {
        good_client(rng, 5);
        ++good;
        reset_client(rng);
        garbage_client(rng);
        half_close_client(rng);
        vanish_client();
    }

    // 2. fd exhaustion. Long-lived clients first, then 700 connections past the limit.
    std::vector<int> long_lived;
    for (int i = 0; i < 5; ++i) long_lived.push_back(connect_client());
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    for (int fd : long_lived) {
        write_all(fd, "hello", deadline);
        if (read_n(fd, 5, deadline) != "hello") fail("long-lived client before exhaustion");
    }
    std::vector<int> flood;
    for (int i = 0; i < 700; ++i) flood.push_back(connect_client(/*blocking=*/false));
    ::usleep(300'000);  // the server accepts what it can and runs out of fds
    const int open_fds = fd_count(g_server);
    if (open_fds >= 0 && open_fds < 500) {
        fail("the flood did not exhaust the server's fds (" + std::to_string(open_fds) +
             " open of 512)");
    }
    const long before = cpu_ticks(g_server);
    for (int round = 0; round < 10; ++round) {  // one second of exhaustion, still serving
        for (int fd : long_lived) {
            write_all(fd, "still there", deadline);
            if (read_n(fd, 11, deadline) != "still there") fail("long-lived client starved");
        }
        ::usleep(100'000);
    }
    const long after = cpu_ticks(g_server);
    const long hz = ::sysconf(_SC_CLK_TCK);
    if (before >= 0 && after >= 0 && (after - before) > hz / 2) {
        fail("the server used " + std::to_string(after - before) + " of " + std::to_string(hz) +
             " ticks in one second of fd exhaustion (spinning)");
    }
    for (int fd : flood) ::close(fd);
    for (int fd : long_lived) ::close(fd);
    // Accepts again once fds free up: a new client is served (within the deadline).
    good_client(rng, 3);
    ++good;

    // 3. A clean exit on SIGTERM.
    ::kill(g_server, SIGTERM);
    int status = 0;
    const auto exit_deadline = Clock::now() + std::chrono::seconds(20);
    pid_t r = 0;
    while ((r = ::waitpid(g_server, &status, WNOHANG)) == 0) {
        if (Clock::now() > exit_deadline) fail("server did not exit after SIGTERM");
        ::usleep(20'000);
    }
    g_server = -1;
    if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fail("server did not exit with status 0 after SIGTERM (status " + std::to_string(status) +
             ")");
    }
    std::printf("echo_chaos: %d well-behaved clients served every byte; 40 resets, 40 garbage, "
                "40 half-closes, 40 vanished; 700 connections past a 512-fd limit (%d fds open, "
                "%ld of %ld CPU ticks in one second of exhaustion); clean exit\n",
                good, open_fds, after - before, hz);
    return 0;
}
