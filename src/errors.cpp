// The unhandled-exception handler and exception descriptions (kaa/errors.hpp).
//
// Threads: the handler slot is guarded by a mutex; report_exception() may be called from any
// thread and calls the handler on the calling thread.

#include <kaa/errors.hpp>

#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <typeinfo>

namespace kaa {

namespace {
std::mutex& handler_mutex() {
    static std::mutex m;
    return m;
}
UnhandledExceptionHandler& handler_slot() {
    static UnhandledExceptionHandler h;
    return h;
}

std::string demangle(const char* name) {
    int status = 0;
    char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    std::string out = (status == 0 && d) ? d : name;
    std::free(d);
    return out;
}
}  // namespace

std::string describe_exception(std::exception_ptr error) {
    if (!error) return "(no exception)";
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return demangle(typeid(e).name()) + ": " + e.what();
    } catch (const BaseException& e) {
        return demangle(typeid(e).name()) + ": " + e.what();
    } catch (...) {
        const std::type_info* t = abi::__cxa_current_exception_type();
        return t ? demangle(t->name()) : std::string("unknown exception");
    }
}

UnhandledExceptionHandler set_unhandled_exception_handler(UnhandledExceptionHandler handler) {
    std::lock_guard lock(handler_mutex());
    UnhandledExceptionHandler old = std::move(handler_slot());
    handler_slot() = std::move(handler);
    return old;
}

void report_exception(std::exception_ptr error, std::string_view context) noexcept {
    try {
        UnhandledExceptionHandler h;
        {
            std::lock_guard lock(handler_mutex());
            h = handler_slot();
        }
        if (h) {
            h(error, context);
            return;
        }
        std::string text = describe_exception(error);
        std::fprintf(stderr, "kaa: %.*s: %s\n", static_cast<int>(context.size()), context.data(),
                     text.c_str());
    } catch (...) {
        std::fputs("kaa: exception while reporting an exception\n", stderr);
    }
}

}  // namespace kaa
