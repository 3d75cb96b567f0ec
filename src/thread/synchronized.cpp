// kaa::synchronized: the registry of per-object recursive locks (kaa/synchronized.hpp).
//
// Threads: any thread; one mutex guards the registry, never held while waiting for an
// object's lock.

#include <kaa/synchronized.hpp>

#include <mutex>
#include <unordered_map>

namespace kaa::detail {

namespace {
struct SyncRegistry {
    std::mutex m;
    std::unordered_map<const void*, SyncEntry> entries;
};
SyncRegistry& sync_registry() {
    static auto* r = new SyncRegistry();
    return *r;
}
}  // namespace

SyncEntry* sync_acquire(const void* key) {
    SyncRegistry& r = sync_registry();
    SyncEntry* e;
    {
        std::lock_guard lk(r.m);
        e = &r.entries[key];
        ++e->users;
    }
    e->mutex.lock();
    return e;
}

void sync_release(const void* key, SyncEntry* e) noexcept {
    e->mutex.unlock();
    SyncRegistry& r = sync_registry();
    std::lock_guard lk(r.m);
    if (--e->users == 0) r.entries.erase(key);
}

}  // namespace kaa::detail
