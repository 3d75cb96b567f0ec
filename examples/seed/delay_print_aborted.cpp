// Seed example (coroutines.rst, "Aborting Coroutines"): delay_print('Hello Kaa').abort() on a
// coroutine that does not catch the abort, so abort() raises it (caught here to show it).
// Prints "abort() raised InProgressAborted: Coroutine aborted".

#include "coroutines_seed.hpp"

#include <iostream>

int main() { seed::run_delay_print_aborted(std::cout); }
