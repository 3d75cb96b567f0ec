// Seed example (coroutines.rst): a coroutine awaiting another coroutine.
// Prints "do_something_else() finished with result: true".

#include "coroutines_seed.hpp"

#include <iostream>

int main() { seed::run_do_something_else(std::cout); }
