#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// kaa for C++: everything in one include.

#include <kaa/callable.hpp>
#include <kaa/coroutine.hpp>
#include <kaa/coroutine_policy.hpp>
#include <kaa/debug.hpp>
#include <kaa/delay.hpp>
#include <kaa/errors.hpp>
#include <kaa/event.hpp>
#include <kaa/generator.hpp>
#include <kaa/inprogress.hpp>
#include <kaa/inprogress_any.hpp>
#include <kaa/inprogress_callable.hpp>
#include <kaa/io.hpp>
#include <kaa/io_channel.hpp>
#include <kaa/main.hpp>
#include <kaa/process.hpp>
#include <kaa/signal.hpp>
#include <kaa/signal_inprogress.hpp>
#include <kaa/socket.hpp>
#include <kaa/socket_address.hpp>
#include <kaa/status.hpp>
#include <kaa/synchronized.hpp>
#include <kaa/thread.hpp>
#include <kaa/thread_pool.hpp>
#include <kaa/timer.hpp>

#pragma GCC visibility pop
