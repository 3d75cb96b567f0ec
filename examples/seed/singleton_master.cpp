// Seed example (coroutines.rst, "Aborting Coroutines"): master() awaits the POLICY_SINGLETON
// coroutine singleton(); a timer aborts singleton() after 1 s, and master() learns the abort's
// origin. Prints "singleton() aborted" and "master() aborted because singleton() aborted".

#include "coroutines_seed.hpp"

#include <iostream>

int main() { seed::run_singleton_master(std::cout); }
