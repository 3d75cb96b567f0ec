// libFuzzer target: IOChannel's line splitter (include/kaa/io_channel.hpp, docs/semantics.md
// [io.channel.readline], [io.channel.delimiter]) fed through a real socketpair, with the loop
// stepped between arbitrary writes, arbitrary chunk_size (so arbitrary chunk boundaries), small
// queue_size values, one delimiter or a list of them (literals, Q18), readline() calls or the
// readline signal, then EOF. The lines received are compared with a reference splitter run over
// the concatenated input:
//   - a line ends at the earliest delimiter match (at one position the first listed wins) that
//     ends within queue_size bytes of the line's start;
//   - without one, queue_size bytes (or more) pending give a piece of exactly queue_size bytes;
//   - at EOF the rest is the last line, and a pending readline() with nothing left gets "" (Q13).
// A delimiter list where one delimiter sits inside another (not as its suffix) makes the split
// depend on when data arrives; then only the weaker properties are checked: the lines
// concatenate to the input, none is longer than queue_size, none is empty.
//
// Input: 4 header bytes (options, delimiters), then operations (write a chunk, step the loop).

#include <kaa/io.hpp>
#include <kaa/io_channel.hpp>
#include <kaa/main.hpp>
#include <kaa/timer.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace {

constexpr char kAlphabet[] = {'a', 'b', '\n', '\r'};

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_io_channel: %s\n", what);
    __builtin_trap();
}

std::string show(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else {
            out += c;
        }
    }
    return out;
}

struct Reader {
    const std::uint8_t* p;
    const std::uint8_t* end;
    bool empty() const { return p == end; }
    std::uint8_t byte() { return p == end ? 0 : *p++; }
};

// Whether the split can depend on chunk boundaries: d2 inside d1 other than as its suffix,
// except at offset 0 when d2 is listed first (it wins there anyway).
bool ambiguous(const std::vector<std::string>& delims) {
    for (std::size_t i = 0; i < delims.size(); ++i) {
        for (std::size_t j = 0; j < delims.size(); ++j) {
            if (i == j) continue;
            const std::string& d1 = delims[i];
            const std::string& d2 = delims[j];
            for (std::size_t off = 0; off + d2.size() < d1.size(); ++off) {
                if (d1.compare(off, d2.size(), d2) != 0) continue;
                if (off == 0 && j < i) continue;
                return true;
            }
        }
    }
    return false;
}

std::vector<std::string> reference_split(const std::string& data,
                                         const std::vector<std::string>& delims,
                                         std::size_t queue_size) {
    std::vector<std::string> lines;
    std::size_t pos = 0;
    while (pos < data.size()) {
        std::size_t best = std::string::npos;
        std::size_t best_len = 0;
        for (const auto& d : delims) {
            std::size_t p = data.find(d, pos);
            // Only a match that ends within queue_size bytes of the line's start counts (a later
            // match of the same delimiter would end later still).
            if (p != std::string::npos && p + d.size() - pos <= queue_size && p < best) {
                best = p;
                best_len = d.size();
            }
        }
        std::size_t n;
        if (best != std::string::npos) {
            n = best + best_len - pos;
        } else if (data.size() - pos >= queue_size) {
            n = queue_size;
        } else {
            n = data.size() - pos;  // the partial last line, at EOF
        }
        lines.push_back(data.substr(pos, n));
        pos += n;
    }
    return lines;
}

void run(const std::uint8_t* data, std::size_t size) {
    Reader in{data, data + size};
    const std::uint8_t flags = in.byte();
    const bool use_signal = flags & 1;
    const bool as_list = flags & 2;
    const std::size_t queue_size = (flags & 4) ? 1 + in.byte() % 16 : 1024 * 1024;
    const std::size_t chunk_size = (flags & 8) ? 1 + in.byte() % 8 : 1024 * 1024;
    const std::uint8_t dspec = in.byte();
    std::vector<std::string> delims;
    const int count = as_list ? 1 + dspec % 3 : 1;
    for (int i = 0; i < count; ++i) {
        const int len = 1 + (dspec >> (2 + 2 * i)) % 3;
        std::string d;
        for (int k = 0; k < len; ++k) d += kAlphabet[in.byte() % 4];
        delims.push_back(d);
    }

    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) fail("socketpair");
    kaa::Timer ticker([] {});  // something due in every iteration: step() never sleeps
    ticker.start(std::chrono::nanoseconds(0));

    std::vector<std::string> lines;
    bool done = false;  // EOF seen by the reader (a "" line, EBADF, or closed signal)
    std::string input;
    {
        kaa::IOChannelOptions options;
        options.mode = kaa::IO_READ;
        options.chunk_size = chunk_size;
        options.queue_size = queue_size;
        options.delimiter = as_list ? kaa::Delimiter(delims)
                                    : kaa::Delimiter(std::string(delims.front()));
        kaa::IOChannel ch(sv[0], options);
        std::optional<kaa::InProgress<std::string>> pending;
        // readline() mode: always one readline() pending; lines that are queued come at once.
        auto pump = [&] {
            while (!done && (!pending || pending->finished())) {
                if (pending) {
                    std::string line = pending->result();
                    pending.reset();
                    if (line.empty()) {
                        done = true;
                        break;
                    }
                    lines.push_back(std::move(line));
                }
                try {
                    pending = ch.readline();
                } catch (const std::system_error& e) {
                    if (ch.alive()) fail("readline() threw on an open channel");
                    done = true;
                }
            }
        };
        if (use_signal) {
            ch.readline_signal().connect([&](const std::string& line) {
                if (line.empty()) fail("the readline signal gave an empty line");
                lines.push_back(line);
            });
            ch.closed_signal().connect([&](bool) { done = true; });
        } else {
            pump();
        }

        while (!in.empty()) {
            const std::uint8_t op = in.byte();
            if (op & 1) {
                for (int i = 0; i < 1 + (op >> 1) % 4; ++i) {
                    kaa::main::step();
                    if (!use_signal) pump();
                }
            } else {
                std::string chunk;
                const int len = (op >> 1) % 24;
                for (int i = 0; i < len && !in.empty(); ++i) chunk += kAlphabet[in.byte() % 4];
                if (::write(sv[1], chunk.data(), chunk.size()) !=
                    static_cast<ssize_t>(chunk.size()))
                    fail("write to the socketpair");
                input += chunk;
            }
        }
        ::close(sv[1]);  // EOF
        for (std::size_t i = 0; !done && i < 4 * input.size() + 16; ++i) {
            kaa::main::step();
            if (!use_signal) pump();
        }
        if (!done) fail("EOF never reached the reader");
        if (ch.alive()) fail("the channel is alive after EOF");
    }
    ticker.stop();

    std::string joined;
    for (const auto& l : lines) {
        if (l.empty()) fail("an empty line");
        if (l.size() > queue_size) {
            std::fprintf(stderr, "line '%s' (%zu bytes), queue_size %zu\n", show(l).c_str(),
                         l.size(), queue_size);
            fail("a line longer than queue_size");
        }
        joined += l;
    }
    if (joined != input) fail("the lines do not concatenate to the input");
    if (ambiguous(delims)) return;
    const auto want = reference_split(input, delims, queue_size);
    if (want != lines) {
        std::fprintf(stderr, "input '%s', queue_size %zu, chunk_size %zu, %s, delimiters:",
                     show(input).c_str(), queue_size, chunk_size,
                     use_signal ? "readline signal" : "readline()");
        for (const auto& d : delims) std::fprintf(stderr, " '%s'", show(d).c_str());
        std::fprintf(stderr, "\n  got:");
        for (const auto& l : lines) std::fprintf(stderr, " '%s'", show(l).c_str());
        std::fprintf(stderr, "\n  reference:");
        for (const auto& l : want) std::fprintf(stderr, " '%s'", show(l).c_str());
        std::fprintf(stderr, "\n");
        fail("lines differ from the reference splitter");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 4096) return 0;  // the socket buffer holds it all; longer adds nothing
    run(data, size);
    return 0;
}
