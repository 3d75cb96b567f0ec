// kaa::debug (kaa/debug.hpp): the per-thread table of coroutine places (the debug aids),
// pending()'s tree over the registry of suspended frames, and the stall detector's public face
// (the measuring is in src/loop/stall.cpp).
//
// Threads: loop thread only, but for the table of places (any thread: a frame may be destroyed
// where its last handle was dropped).

#include "loop/stall.hpp"

#include <kaa/coroutine.hpp>
#include <kaa/debug.hpp>
#include <kaa/detail/coroutine_impl.hpp>
#include <kaa/detail/debug_aids.hpp>
#include <kaa/detail/loop.hpp>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace kaa::detail {

// ---------------------------------------------------------------- the table of places

namespace {

struct FrameSites {
    SourceSite created;
    SourceSite awaits;
};

#if KAA_DEBUG_AIDS_ON
/// The places of the frames: open addressing with linear probing and backward-shift
/// deletion, at most half full. Not a node-based map: once grown to the most frames alive at a
/// time, recording allocates nothing, so the aids keep "no allocation per coroutine call past
/// the frame" (tests/coroutine_stress_test.cpp) true in debug builds too.
class FrameTable {
public:
    void put(const CoroutineBase* key, const FrameSites& sites) {
        if ((used_ + 1) * 2 > slots_.size()) grow();
        std::size_t i = find_slot(key);
        if (!slots_[i].key) ++used_;
        slots_[i] = Slot{key, sites};
    }
    FrameSites* find(const CoroutineBase* key) noexcept {
        if (slots_.empty()) return nullptr;
        Slot& s = slots_[find_slot(key)];
        return s.key ? &s.sites : nullptr;
    }
    void erase(const CoroutineBase* key) noexcept {
        if (slots_.empty()) return;
        std::size_t i = find_slot(key);
        if (!slots_[i].key) return;
        // Backward shift: move later entries of the probe run into the hole.
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t j = (i + 1) & mask; slots_[j].key; j = (j + 1) & mask) {
            const std::size_t home = hash(slots_[j].key) & mask;
            // Move j to i if its home is not within (i, j] (cyclically).
            if (((j - home) & mask) >= ((j - i) & mask)) {
                slots_[i] = slots_[j];
                i = j;
            }
        }
        slots_[i] = Slot{};
        --used_;
        // After a spike the table gives its memory back (FrameAlloc's RSS test: 200,000 frames
        // leave 28 MiB of slots otherwise); shrinking at 1/8 full and growing at 1/2 leaves a
        // steady state that neither grows nor shrinks, and below kShrinkFloor slots (under
        // 1 MiB) it keeps its size, so that bursts of a few thousand frames allocate nothing.
        if (slots_.size() > kShrinkFloor && used_ * 8 < slots_.size()) {
            try {
                resize(std::max(kShrinkFloor, std::bit_ceil(used_ * 4)));
            } catch (...) {  // no memory for the smaller table: keep the larger one
            }
        }
    }

private:
    struct Slot {
        const CoroutineBase* key = nullptr;
        FrameSites sites;
    };
    static std::size_t hash(const CoroutineBase* p) noexcept {
        return static_cast<std::size_t>((reinterpret_cast<std::uintptr_t>(p) >> 4) *
                                        0x9E3779B97F4A7C15ull);
    }
    std::size_t find_slot(const CoroutineBase* key) const noexcept {
        const std::size_t mask = slots_.size() - 1;
        std::size_t i = hash(key) & mask;
        while (slots_[i].key && slots_[i].key != key) i = (i + 1) & mask;
        return i;
    }
    static constexpr std::size_t kMinSlots = 64;
    static constexpr std::size_t kShrinkFloor = 16384;
    void grow() { resize(slots_.empty() ? kMinSlots : slots_.size() * 2); }
    void resize(std::size_t n) {
        std::vector<Slot> fresh(n, Slot{});
        std::vector<Slot> old = std::exchange(slots_, std::move(fresh));
        used_ = 0;
        for (const Slot& s : old) {
            if (!s.key) continue;
            slots_[find_slot(s.key)] = s;
            ++used_;
        }
    }
    std::vector<Slot> slots_;  ///< a power of two in size, or empty
    std::size_t used_ = 0;
};

// One table for the process, under a mutex: frames are made and resumed on the loop thread,
// but the last handle of one may be dropped (and the frame destroyed) on any thread. Made on
// first use and never freed (frames may be destroyed during static destruction).
std::mutex& frames_mutex() {
    static std::mutex* m = new std::mutex();
    return *m;
}
FrameTable* g_frames = nullptr;  // guarded by frames_mutex()

FrameTable& frames() {
    if (!g_frames) g_frames = new FrameTable();
    return *g_frames;
}
#endif

/// "file:line" with the directories dropped.
std::string short_place(const SourceSite& s) {
    if (!s.known()) return "?";
    std::string_view f = s.file;
    if (auto slash = f.rfind('/'); slash != std::string_view::npos) f.remove_prefix(slash + 1);
    return std::string(f) + ":" + std::to_string(s.line);
}

}  // namespace

#if KAA_DEBUG_AIDS_ON
void debug_note_created(const CoroutineBase* co, SourceSite site) {
    std::lock_guard lock(frames_mutex());
    frames().put(co, FrameSites{site, SourceSite{}});
}
void debug_note_await(const CoroutineBase* co, SourceSite site) {
    std::lock_guard lock(frames_mutex());
    FrameTable& table = frames();
    if (FrameSites* f = table.find(co)) {
        f->awaits = site;
    } else {
        table.put(co, FrameSites{SourceSite{}, site});
    }
}
void debug_forget(const CoroutineBase* co) noexcept {
    std::lock_guard lock(frames_mutex());
    if (g_frames) g_frames->erase(co);
}
void debug_sites(const CoroutineBase* co, SourceSite& created, SourceSite& awaits) noexcept {
    created = awaits = SourceSite{};
    std::lock_guard lock(frames_mutex());
    if (!g_frames) return;
    if (const FrameSites* f = g_frames->find(co)) {
        created = f->created;
        awaits = f->awaits;
    }
}
#else
// A library built without the aids records nothing (headers built with them still link).
void debug_note_created(const CoroutineBase*, SourceSite) {}
void debug_note_await(const CoroutineBase*, SourceSite) {}
void debug_forget(const CoroutineBase*) noexcept {}
void debug_sites(const CoroutineBase*, SourceSite& created, SourceSite& awaits) noexcept {
    created = awaits = SourceSite{};
}
#endif

std::string debug_coroutine_name(const CoroutineBase* co) {
    SourceSite created;
    SourceSite awaits;
    debug_sites(co, created, awaits);
    if (!created.known()) return "coroutine";
    return std::string("coroutine ") + created.function + " (" + short_place(created) + ")";
}

// ---------------------------------------------------------------- stall detector hooks

void CoroutineBase::resume_measured() {
    stall_run([](void* c) { static_cast<CoroutineBase*>(c)->handle_.resume(); }, this,
              [](const void* c) {
                  return debug_coroutine_name(static_cast<const CoroutineBase*>(c));
              },
              this);
}

}  // namespace kaa::detail

namespace kaa::debug {

using detail::CoroutineBase;

namespace {

/// What a suspended coroutine waits on.
std::string waits_on(const CoroutineBase& co) {
    if (co.awaiting_) return co.awaiting_->describe();
    if (co.deferred_) return "its turn (POLICY_SYNCHRONIZED)";
    if (co.ready_queued_) return "NotFinished (next iteration)";
    if (const detail::IntervalTimer* t = co.timer(); t && t->armed()) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(t->due - detail::Clock::now());
        return "its interval (resumes in " + std::to_string(left.count()) + " ms)";
    }
    return "its resumption";
}

PendingCoroutine node_of(const CoroutineBase& co) {
    PendingCoroutine n;
    detail::debug_sites(&co, n.created, n.waits_at);
    if (n.created.known()) n.function = n.created.function;
    n.waits_on = waits_on(co);
    return n;
}

/// The node of `co` with the chain of coroutines it awaits below it (iterative; a cycle or
/// an awaited frame that is not suspended ends the chain).
PendingCoroutine chain_of(const CoroutineBase* co, const std::set<const CoroutineBase*>& listed) {
    PendingCoroutine root = node_of(*co);
    PendingCoroutine* at = &root;
    std::set<const CoroutineBase*> seen{co};
    while (co->awaiting_) {
        const auto* next = dynamic_cast<const CoroutineBase*>(co->awaiting_);
        if (!next || !listed.count(next) || !seen.insert(next).second) break;
        at->awaits.push_back(node_of(*next));
        at = &at->awaits.back();
        co = next;
    }
    return root;
}

void print_node(std::string& out, const PendingCoroutine& n, int depth) {
    out.append(static_cast<std::size_t>(depth) * 2, ' ');
    out += "coroutine ";
    out += n.function.empty() ? std::string("?") : n.function;
    if (n.created.known()) out += " (" + detail::short_place(n.created) + ")";
    if (n.waits_at.known()) out += " waits at " + detail::short_place(n.waits_at);
    out += " on " + n.waits_on + "\n";
    for (const auto& c : n.awaits) print_node(out, c, depth + 1);
}

}  // namespace

std::vector<PendingCoroutine> pending() {
    detail::assert_loop_thread("debug::pending()");
    // The registry of suspended frames (and other active nodes): the coroutines are those with
    // CoroutineBase's unwind function. Oldest first (the registry links at the front).
    std::vector<const CoroutineBase*> frames;
    detail::ActiveNode* head = detail::active_registry();
    for (detail::ActiveNode* n = head->prev; n != head; n = n->prev) {
        if (n->unwind == &CoroutineBase::unwind_hook) {
            const auto* co = static_cast<const CoroutineBase*>(n);
            if ((co->suspended_ || co->deferred_) && !co->done_) frames.push_back(co);
        }
    }
    const std::set<const CoroutineBase*> listed(frames.begin(), frames.end());
    std::set<const CoroutineBase*> awaited;
    for (const CoroutineBase* co : frames) {
        if (!co->awaiting_) continue;
        if (const auto* a = dynamic_cast<const CoroutineBase*>(co->awaiting_); a && a != co) {
            awaited.insert(a);
        }
    }
    std::vector<PendingCoroutine> roots;
    for (const CoroutineBase* co : frames) {
        if (!awaited.count(co)) roots.push_back(chain_of(co, listed));
    }
    return roots;
}

std::string to_string(const std::vector<PendingCoroutine>& tree) {
    std::string out;
    for (const auto& n : tree) print_node(out, n, 0);
    return out;
}

void print_pending(std::FILE* out) {
    const std::string text = to_string(pending());
    std::fputs(text.empty() ? "kaa: no suspended coroutines\n" : text.c_str(), out);
    std::fflush(out);
}

bool aids_enabled() noexcept { return KAA_DEBUG_AIDS_ON != 0; }

void set_stall_threshold(std::optional<std::chrono::milliseconds> threshold, StallHandler handler) {
    detail::assert_loop_thread("debug::set_stall_threshold()");
    if (!threshold) {
        detail::stall_disarm();
        return;
    }
    if (threshold->count() < 0) {
        throw std::invalid_argument("kaa: debug::set_stall_threshold() with a negative threshold");
    }
    if (!handler) {
        handler = [](const Stall& s) {
            std::fprintf(
                stderr, "kaa: stall: %s held the loop for %lld ms\n", s.what.c_str(),
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(s.duration).count()));
        };
    }
    detail::stall_configure(*threshold, [handler = std::move(handler)](std::string_view what,
                                                                       detail::Duration d) {
        handler(Stall{std::string(what), std::chrono::duration_cast<std::chrono::nanoseconds>(d)});
    });
}

}  // namespace kaa::debug
