#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// IOChannel: buffered, asynchronous reads and writes over a non-blocking file descriptor (a
// pipe, a socket, a tty or a regular file), kaa's io.IOChannel (docs/semantics.md [io.channel]).
//
//   kaa::IOChannel ch(fd);                       // takes ownership of fd, makes it non-blocking
//   std::string chunk = co_await ch.read();      // the queued data, or the next chunk; "" at EOF
//   std::string line = co_await ch.readline();   // the next line, with its delimiter
//   co_await ch.write("hello\n");                // finishes with the byte count once written
//   co_await ch.close();                         // drains queued writes first
//
// Data is bytes held in std::string. Flow control: the fd is watched for reading only while
// somebody is interested (a pending read()/readline(), or a callback connected to read_signal()
// or readline_signal()); otherwise no data is consumed from the fd, no read buffer is held and
// no system call is made. Writes are queued (at most queue_size() bytes) and written when the
// fd is writable; write() tries to write at once when nothing is queued.
//
// Lifetime: the channel owns its fd and closes it. Destroying the channel disconnects its
// signals, finishes pending read()/readline() calls with what is left ("" when nothing) and
// closes the fd at once — except while a close() is draining queued writes: that drain goes on
// silently and the fd is closed when it ends. A callback or a resumed coroutine may close or
// destroy the channel at any time, also while the channel is finishing other InProgress objects.
//
// SIGPIPE: the first IOChannel created sets SIGPIPE to SIG_IGN if it is still SIG_DFL (a
// handler installed by the program is kept), so that a write to a closed pipe or socket fails
// with EPIPE instead of killing the process; sockets also send with MSG_NOSIGNAL.
//
// Threads: main-loop thread only (debug builds assert it in the public calls).

#include <kaa/inprogress.hpp>
#include <kaa/io.hpp>
#include <kaa/signal.hpp>

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kaa {

namespace detail {
struct ChannelCore;
}  // namespace detail

/// The delimiters of readline(): one string, or a list of alternatives (each a literal, not a
/// regular expression: docs/semantics.md Q18). Any of them ends a line.
class Delimiter {
public:
    /// "\n" (shared by every default Delimiter: no allocation).
    Delimiter();
    /// One delimiter. Throws std::invalid_argument if it is empty.
    Delimiter(std::string d);  // NOLINT(google-explicit-constructor): "\r\n" is a Delimiter
    /// One delimiter. Throws std::invalid_argument if it is empty.
    Delimiter(const char* d) : Delimiter(std::string(d)) {}  // NOLINT(google-explicit-constructor)
    /// Alternatives; at one position the first listed that matches wins. Throws
    /// std::invalid_argument if the list or one of its strings is empty.
    Delimiter(std::initializer_list<std::string> list);
    /// Alternatives, as above.
    explicit Delimiter(std::vector<std::string> list);
    /// The alternatives, in order.
    const std::vector<std::string>& list() const noexcept { return *list_; }

private:
    std::shared_ptr<const std::vector<std::string>> list_;
};

/// Options of an IOChannel (kaa's constructor arguments).
struct IOChannelOptions {
    /// IO_READ, IO_WRITE or both (a bitmask).
    int mode = IO_READ | IO_WRITE;
    /// The most bytes one read() returns (one system call reads at most this much).
    std::size_t chunk_size = 1024 * 1024;
    /// The limit of the write queue and of a line waiting for its delimiter.
    std::size_t queue_size = 1024 * 1024;
    /// What ends a line for readline().
    Delimiter delimiter = Delimiter();
};

/// kaa's IOChannel over a file descriptor; see the file comment. Neither copied nor moved (its
/// signals are named by address); use steal() to move a channel's state into another.
class IOChannel {
public:
    /// A disconnected channel (alive() is false); wrap() gives it an fd.
    IOChannel();
    /// A channel over `fd` (see wrap()).
    explicit IOChannel(int fd, IOChannelOptions options = {});
    IOChannel(const IOChannel&) = delete;
    IOChannel& operator=(const IOChannel&) = delete;
    /// See the file comment (Lifetime).
    virtual ~IOChannel();

    /// Closes the current fd at once (close(true)), then takes ownership of `fd`: sets it
    /// non-blocking and decides close_on_eof (false iff lseek() succeeds: a regular file).
    /// Throws std::invalid_argument for a negative fd or a mode without IO_READ and IO_WRITE,
    /// std::system_error if fcntl() fails.
    void wrap(int fd, IOChannelOptions options = {});

    /// The queued data at once (a finished InProgress) if any is queued; otherwise the next
    /// chunk of at most chunk_size() bytes once it is read, or "" at EOF (also at once when no
    /// more data can come). Abortable while pending (then the fd stops being watched unless
    /// somebody else is interested). Several pending read() calls all get the same chunk.
    /// Throws std::system_error(EBADF) "I/O operation on closed file" on a closed channel with
    /// nothing queued, "Cannot read on a write-only channel" without IO_READ.
    virtual InProgress<std::string> read();
    /// The next line, including its delimiter: at once if a complete line is queued. At EOF
    /// the remaining data without a delimiter, or "" if nothing remains (Q13). A line longer
    /// than queue_size() comes back in pieces of queue_size() bytes. Throws std::runtime_error
    /// "Callback currently connected to readline signal" while readline_signal() has
    /// callbacks, and what read() throws on a closed or write-only channel.
    virtual InProgress<std::string> readline();
    /// Queues `data`; the InProgress finishes with data.size() once all of it was written
    /// (at once if it could be written at once; write("") finishes at once with 0), or fails
    /// with the std::system_error of write(2), or "Channel closed prematurely" if the channel
    /// closes first. Abortable while none of it was written (it leaves the queue).
    /// Throws std::system_error(EBADF): "I/O operation on closed file" (closed or closing),
    /// "Cannot write to a read-only channel", "Channel is not writable" (queue full);
    /// std::invalid_argument "Data would exceed write queue limit".
    virtual InProgress<std::size_t> write(std::string data);
    /// Closes the channel; alive() is false at once. Not `immediate` and writes queued: the
    /// returned InProgress finishes once they are written and the fd closed. Otherwise, at
    /// once: stops watching, closes the fd, finishes pending read() calls with the remaining
    /// queue ("" if none) and readline() calls with the remaining data, fails every queued
    /// write with "Channel closed prematurely" (Q19), then emits closed_signal(true) and
    /// returns a finished InProgress. A no-op (finished InProgress) on a closed channel.
    virtual InProgress<void> close(bool immediate = false);
    /// Takes over `other`'s fd, queues, settings and signal connections; `other` is left
    /// disconnected (with new, empty signals) and this channel's previous fd is closed at once
    /// and its previous connections dropped.
    void steal(IOChannel& other);

    /// Emitted with every chunk read, in addition to finishing pending read() calls. The first
    /// callback connected gets the queued data at once.
    Signal<const std::string&>& read_signal();
    /// Emitted with every complete line (with its delimiter) while it has callbacks; at EOF
    /// with the remaining partial line, if any.
    Signal<const std::string&>& readline_signal();
    /// Emitted once the channel closed: true after close(), false at EOF or on an error.
    Signal<bool>& closed_signal();

    /// The fd is open and close() was not called.
    virtual bool alive() const;
    /// IO_READ mode and either more data can come (alive, not at EOF) or data is queued.
    virtual bool readable() const;
    /// IO_WRITE mode, alive, and the write queue has room.
    virtual bool writable() const;
    /// The fd, or -1 when closed.
    virtual int fileno() const;
    /// IO_READ | IO_WRITE bits of the open channel; 0 when closed.
    int mode() const;
    /// At EOF (or after a read error).
    bool eof() const;
    /// The most bytes one read returns.
    std::size_t chunk_size() const;
    /// Sets chunk_size (at least 1).
    void set_chunk_size(std::size_t n);
    /// The write queue limit (also the longest line readline() waits for).
    std::size_t queue_size() const;
    /// Sets queue_size (at least 1).
    void set_queue_size(std::size_t n);
    /// Bytes waiting in the write queue.
    std::size_t write_queue_used() const;
    /// Bytes waiting in the read queue.
    std::size_t read_queue_used() const;
    /// The readline() delimiter.
    const Delimiter& delimiter() const;
    /// Sets the delimiter.
    void set_delimiter(Delimiter d);
    /// Whether EOF closes the channel (emitting closed_signal(false)).
    bool close_on_eof() const;
    /// Sets close_on_eof (Socket refuses false).
    virtual void set_close_on_eof(bool on);
    /// Diagnostic: whether the fd is registered with the loop for reading right now.
    bool watching_read() const;

    /// "<kaa.IOChannel fd=N>" or "<kaa.IOChannel - disconnected>".
    std::string repr() const;

protected:
    /// The shared implementation (kept alive by the loop while it dispatches).
    std::shared_ptr<detail::ChannelCore> core_;
    /// Sends with MSG_NOSIGNAL instead of write(2) (sockets).
    void set_socket_mode(bool on);
    /// A pending read() (`line`: readline()) without the state checks: it waits for an fd
    /// (a Socket while connecting).
    InProgress<std::string> pending_read(bool line);
};

}  // namespace kaa

#pragma GCC visibility pop
