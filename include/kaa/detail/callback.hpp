#pragma once
#pragma GCC visibility push(default)  // the public API; src/ is built with hidden visibility
// Internal helpers shared by signals, timers, monitors and InProgress listeners:
// a move-only type-erased task, and kaa's "only an explicit false counts" rule.

#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace kaa::detail {

/// Calls f(args...) and tells whether it returned exactly `false`.
/// void and every non-bool result count as true (kaa: only `== False` changes behaviour).
template <class F, class... Args>
bool invoke_keeps_going(F& f, Args&&... args) {
    using R = std::invoke_result_t<F&, Args...>;
    if constexpr (std::is_same_v<R, bool>) {
        return std::invoke(f, std::forward<Args>(args)...);
    } else {
        std::invoke(f, std::forward<Args>(args)...);
        return true;
    }
}

/// A move-only `void()` callable with small-buffer storage (for posted work and ready queues).
class Task {
public:
    Task() = default;
    template <class F>
        requires(!std::same_as<std::decay_t<F>, Task> && std::invocable<std::decay_t<F>&>)
    Task(F&& f) {  // NOLINT(google-explicit-constructor): a Task is built from any callable
        using D = std::decay_t<F>;
        if constexpr (sizeof(D) <= kInline && alignof(D) <= alignof(std::max_align_t) &&
                      std::is_nothrow_move_constructible_v<D>) {
            new (buf_) D(std::forward<F>(f));
            ops_ = &inline_ops<D>;
        } else {
            *reinterpret_cast<D**>(buf_) = new D(std::forward<F>(f));
            ops_ = &heap_ops<D>;
        }
    }
    Task(Task&& o) noexcept : ops_(o.ops_) {
        if (ops_) ops_->move(o.buf_, buf_);
        o.ops_ = nullptr;
    }
    Task& operator=(Task&& o) noexcept {
        if (this != &o) {
            reset();
            ops_ = o.ops_;
            if (ops_) ops_->move(o.buf_, buf_);
            o.ops_ = nullptr;
        }
        return *this;
    }
    Task(const Task&) = delete;
    Task& operator=(const Task&) = delete;
    ~Task() { reset(); }

    explicit operator bool() const { return ops_ != nullptr; }
    /// The type of the stored callable (stall reports name it); null when empty.
    const std::type_info* type() const noexcept { return ops_ ? ops_->type : nullptr; }
    void operator()() { ops_->call(buf_); }
    void reset() {
        if (ops_) ops_->destroy(buf_);
        ops_ = nullptr;
    }

private:
    static constexpr std::size_t kInline = 48;
    struct Ops {
        void (*call)(void*);
        void (*move)(void* from, void* to);
        void (*destroy)(void*);
        const std::type_info* type;
    };
    template <class D>
    static constexpr Ops inline_ops{[](void* p) { (*static_cast<D*>(p))(); },
                                    [](void* from, void* to) {
                                        new (to) D(std::move(*static_cast<D*>(from)));
                                        static_cast<D*>(from)->~D();
                                    },
                                    [](void* p) { static_cast<D*>(p)->~D(); }, &typeid(D)};
    template <class D>
    static constexpr Ops heap_ops{[](void* p) { (**static_cast<D**>(p))(); },
                                  [](void* from, void* to) {
                                      *static_cast<D**>(to) = *static_cast<D**>(from);
                                  },
                                  [](void* p) { delete *static_cast<D**>(p); }, &typeid(D)};

    alignas(std::max_align_t) unsigned char buf_[kInline];
    const Ops* ops_ = nullptr;
};

}  // namespace kaa::detail

#pragma GCC visibility pop
