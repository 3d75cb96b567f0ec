// Seed example (coroutines.rst): a coroutine that breaks a loop into time slices.
// Prints "do_something() finished with result: 42".

#include "coroutines_seed.hpp"

#include <iostream>

int main() { seed::run_do_something(std::cout); }
