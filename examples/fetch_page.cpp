// The seed's fetch_page, as a coroutine and as callbacks, against a local HTTP server (the
// code is in fetch_page.hpp, which tests/seed_examples_test.cpp runs too).

#include "fetch_page.hpp"

#include <iostream>

int main() { example::run_fetch_page(std::cout); }
