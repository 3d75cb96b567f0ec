// IOMonitor: watch a file descriptor from the main loop (the example is in io_example.hpp,
// which tests/io_test.cpp runs too).

#include "io_example.hpp"

#include <iostream>

int main() { return example::run_io(std::cout); }
