#!/usr/bin/env bash
# Dependencies point down: each layer of kaa compiles without the headers of the layers above
# it. For every file of a layer this asks the compiler for the headers it really includes
# (-MM, transitively) and fails if one of them belongs to a forbidden, upper layer.
#
#   tests/layering/check_layering.sh [CXX]      (run by ctest as kaa_layering)
#
# The layers, bottom up:
#   base      errors.hpp, detail/callback.hpp
#   reactor   detail/loop.hpp, src/loop/ — the loop, timers, fd watchers, POSIX signals
#   timers/io timer.hpp, io.hpp (IOMonitor): only the reactor
#   signals   callable.hpp, signal.hpp
#   facade    main.hpp, src/main.cpp — run/stop/step and the main signals
#   inprogress  detail/state.hpp, detail/frame_alloc.hpp, inprogress*.hpp, status.hpp, delay.hpp
#   above     coroutines, threads, generators, events (may use everything below)
#   io        socket_address.hpp, io_channel.hpp, socket.hpp, process.hpp, src/io/ — addresses, channels, sockets,
#             processes: may use the reactor, InProgress, signals, coroutines and threads;
#             nothing below includes them
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cxx="${1:-${CXX:-c++}}"
failures=0

# deps FILE: the project headers FILE includes, one per line, relative to include/kaa or src/.
deps() {
    "$cxx" -std=c++20 -I"$root/include" -I"$root/src" -MM -x c++ "$1" 2>/dev/null |
        tr ' \\' '\n\n' | grep -E "^$root/(include/kaa|src)/" |
        sed -e "s|^$root/include/kaa/||" -e "s|^$root/src/|src/|" | sort -u
}

# check LAYER FORBIDDEN-REGEX FILE...: no FILE may include a header matching the regex.
check() {
    local layer="$1" forbidden="$2"
    shift 2
    local f bad
    for f in "$@"; do
        [ -e "$f" ] || { echo "layering: $layer: missing file $f" >&2; failures=$((failures + 1)); continue; }
        bad="$(deps "$f" | grep -E "$forbidden" || true)"
        if [ -n "$bad" ]; then
            echo "layering: $layer: ${f#$root/} includes an upper layer:" >&2
            echo "$bad" | sed 's/^/    /' >&2
            failures=$((failures + 1))
        fi
    done
}

inc="$root/include/kaa"
upper_of_reactor='^(inprogress|coroutine|thread|synchronized|generator|event|main|signal|callable|status|delay|kaa|socket|process|io_channel)[_a-z]*\.hpp$|^src/io/|^detail/(state|inprogress_impl|coroutine_impl|generator_impl|thread_impl|signal_impl|frame_alloc)\.hpp$|^src/main'
upper_of_signals='^(inprogress|coroutine|thread|synchronized|generator|event|main|status|delay|kaa|socket|process|io_channel)[_a-z]*\.hpp$|^src/io/|^signal_inprogress\.hpp$|^detail/(state|inprogress_impl|coroutine_impl|generator_impl|thread_impl|frame_alloc)\.hpp$'
upper_of_facade='^(inprogress|coroutine|thread|synchronized|generator|event|status|delay|kaa|socket|process|io_channel)[_a-z]*\.hpp$|^src/io/|^signal_inprogress\.hpp$|^detail/(state|inprogress_impl|coroutine_impl|generator_impl|thread_impl|frame_alloc)\.hpp$'
upper_of_inprogress='^(coroutine|thread|synchronized|generator|event|kaa|socket|process|io_channel)[_a-z]*\.hpp$|^src/io/|^detail/(coroutine_impl|generator_impl|thread_impl)\.hpp$'

check reactor "$upper_of_reactor" "$inc/detail/loop.hpp" "$inc/detail/callback.hpp" "$inc/errors.hpp" \
    "$inc/detail/invariant.hpp" "$inc/detail/exception_peek.hpp" \
    "$root"/src/loop/*.hpp "$root"/src/loop/*.cpp
check timers/io "$upper_of_reactor" "$inc/timer.hpp" "$inc/io.hpp" "$root/src/timer.cpp" "$root/src/io.cpp"
check signals "$upper_of_signals" "$inc/callable.hpp" "$inc/signal.hpp"
check facade "$upper_of_facade" "$inc/main.hpp" "$root/src/main.cpp" "$root/src/main_internal.hpp"
check inprogress "$upper_of_inprogress" "$inc/detail/state.hpp" "$inc/inprogress.hpp" \
    "$inc/inprogress_any.hpp" "$inc/inprogress_callable.hpp" "$inc/status.hpp" "$inc/delay.hpp" \
    "$root/src/state.cpp" "$root/src/inprogress.cpp" "$root/src/inprogress_any.cpp"
# The I/O layer (addresses, channels, sockets, processes) sits on top; only the umbrella header
# is above it.
shopt -s nullglob
check io '^kaa\.hpp$' "$inc/socket_address.hpp" "$inc/io_channel.hpp" "$inc/socket.hpp" "$inc/process.hpp" \
    "$root"/src/io/*.hpp "$root"/src/io/*.cpp
shopt -u nullglob
# Threads use the frame allocator, not the coroutine machinery.
check threads '^detail/coroutine_impl\.hpp$|^coroutine[_a-z]*\.hpp$' "$inc/detail/thread_impl.hpp"
# Coroutines, threads, generators and events know nothing of the I/O layer.
check above '^(socket|process|io_channel)[_a-z]*\.hpp$|^src/io/' "$inc"/coroutine*.hpp \
    "$inc"/thread*.hpp "$inc"/generator.hpp "$inc"/event.hpp "$inc"/synchronized.hpp

if [ "$failures" -ne 0 ]; then
    echo "layering: $failures violation(s)" >&2
    exit 1
fi
echo "layering: every dependency points down"
