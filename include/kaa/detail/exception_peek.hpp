#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// Looking inside a std::exception_ptr without throwing it.
//
// The standard offers one way to reach the object an exception_ptr holds: rethrow it and catch
// it, a full C++ throw (tens of microseconds under contention on the unwinder's locks, ~1-2 µs
// otherwise). The abort paths ask "is this an InProgressAborted, and which InProgress does it
// name?" several times per aborted coroutine, so they use peek_exception() instead: on the
// Itanium C++ ABI with libstdc++ (g++ and clang++ on Linux) it matches the type the way a
// catch clause does (type_info::__do_catch, which handles derived classes and adjusts the
// pointer) without unwinding anything; elsewhere it falls back to rethrow-and-catch.

#include <exception>
#include <typeinfo>

namespace kaa::detail {

/// The object held by `e` as an `E` (a catch clause `catch (E&)` would match it), or nullptr
/// if `e` is empty or holds something else. Never throws. The pointer lives as long as any
/// exception_ptr to the same exception.
template <class E>
E* peek_exception(const std::exception_ptr& e) noexcept {
    if (!e) return nullptr;
#if defined(__GLIBCXX__) && defined(__GXX_RTTI)
    // libstdc++'s exception_ptr is one pointer to the thrown object (_M_exception_object).
    static_assert(sizeof(std::exception_ptr) == sizeof(void*));
    const std::type_info* thrown = e.__cxa_exception_type();
    if (!thrown) return nullptr;
    void* object = nullptr;
    __builtin_memcpy(&object, static_cast<const void*>(&e), sizeof object);
    if (!typeid(E).__do_catch(thrown, &object, 1)) return nullptr;
    return static_cast<E*>(object);
#else
    try {
        std::rethrow_exception(e);
    } catch (E& x) {
        return &x;
    } catch (...) {
        return nullptr;
    }
#endif
}

}  // namespace kaa::detail

#pragma GCC visibility pop
