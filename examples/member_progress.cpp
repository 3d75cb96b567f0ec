// A member coroutine with progress, its object a local struct smaller than a pointer: the
// program of issue #10 that GCC 12 rejected at -O2 -Wall -Werror (-Warray-bounds false positive
// in coroutine_policy.hpp). Built with the project's warnings; exits 0.

#include <kaa/coroutine_policy.hpp>

int main() {
    struct Task {
        int factor = 3;
        kaa::Coroutine<int> run(kaa::InProgressStatus& status, int x) {
            status.set(x);
            co_return (x * factor);
        }
    } task;
    auto run = kaa::coroutine({.progress = true}, &Task::run);
    auto c = run(task, 5);
    return c.result() == 15 && c.progress()->pos() == 5 ? 0 : 1;
}
