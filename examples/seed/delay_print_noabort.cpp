// Seed example (coroutines.rst, "Aborting Coroutines"): awaiting kaa::delay(5s).noabort()
// keeps the abort from cascading into the delay. Prints "false will be false".

#include "coroutines_seed.hpp"

#include <iostream>

int main() { seed::run_delay_print_noabort(std::cout); }
