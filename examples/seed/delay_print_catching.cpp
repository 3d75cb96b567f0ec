// Seed example (coroutines.rst, "Aborting Coroutines"): delay_print catches the
// InProgressAborted, so abort() returns normally; the coroutine still ends aborted.
// Prints "abort() returned normally; delay_print() is finished: true, failed: true".

#include "coroutines_seed.hpp"

#include <iostream>

int main() { seed::run_delay_print_catching(std::cout); }
