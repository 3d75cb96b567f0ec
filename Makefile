# kaa for C++ — convenience front end over CMake.
#
#   make deps    install missing Debian packages (as root), or warn about them
#   make demo    Release build of the examples, then run the tour
#   make test    debug, ASan+UBSan and TSan builds; ctest in each
#   make bench   Release build with benchmarks, then bench/run.sh
#   make clean   remove build/

JOBS  ?= 2
CMAKE ?= cmake
CTEST ?= ctest

DEPS := g++ cmake make libgtest-dev libbenchmark-dev

ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
TSAN_ENV := TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

# TSan (gcc 12 / clang 14) aborts with "unexpected memory mapping" when the kernel
# randomizes mmap with high entropy; running with ASLR disabled avoids it.
NO_ASLR := $(shell setarch $$(uname -m) -R true >/dev/null 2>&1 && echo "setarch $$(uname -m) -R")

# Sanitizer builds: -O1 keeps them fast enough, and no -DNDEBUG keeps assert() on.
SAN_FLAGS := -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g"
# Release for demo and bench: -O2.
REL_FLAGS := -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG"

.PHONY: all deps demo test test-debug test-asan test-tsan bench clean

all: test

deps:
	@missing=""; \
	if ! command -v dpkg-query >/dev/null 2>&1; then \
	    echo "deps: dpkg-query not found (not Debian?); make sure these are installed: $(DEPS)"; \
	    exit 0; \
	fi; \
	for p in $(DEPS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" \
	        || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
	else \
	    echo "deps: WARNING: missing packages:$$missing (run 'sudo make deps' or apt-get install them)" >&2; \
	fi

demo: deps
	$(CMAKE) -S . -B build/release $(REL_FLAGS) \
	    -DKAA_BUILD_TESTS=OFF -DKAA_BUILD_EXAMPLES=ON -DKAA_BUILD_BENCH=OFF -DKAA_SANITIZE=
	$(CMAKE) --build build/release -j$(JOBS)
	./build/release/examples/tour

test: deps
	$(MAKE) --no-print-directory test-debug
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory test-tsan

test-debug:
	$(CMAKE) -S . -B build/debug -DCMAKE_BUILD_TYPE=Debug \
	    -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g -D_GLIBCXX_ASSERTIONS" \
	    -DKAA_BUILD_TESTS=ON -DKAA_BUILD_EXAMPLES=ON -DKAA_BUILD_BENCH=OFF -DKAA_SANITIZE=
	$(CMAKE) --build build/debug -j$(JOBS)
	cd build/debug && $(CTEST) --output-on-failure

test-asan:
	$(CMAKE) -S . -B build/asan $(SAN_FLAGS) -DKAA_SANITIZE=address \
	    -DKAA_BUILD_TESTS=ON -DKAA_BUILD_EXAMPLES=ON -DKAA_BUILD_BENCH=OFF
	$(CMAKE) --build build/asan -j$(JOBS)
	cd build/asan && env $(ASAN_ENV) $(CTEST) --output-on-failure

test-tsan:
	$(CMAKE) -S . -B build/tsan $(SAN_FLAGS) -DKAA_SANITIZE=thread \
	    -DKAA_BUILD_TESTS=ON -DKAA_BUILD_EXAMPLES=ON -DKAA_BUILD_BENCH=OFF
	$(CMAKE) --build build/tsan -j$(JOBS)
	cd build/tsan && env $(TSAN_ENV) $(NO_ASLR) $(CTEST) --output-on-failure

bench: deps
	$(CMAKE) -S . -B build/bench $(REL_FLAGS) \
	    -DKAA_BUILD_BENCH=ON -DKAA_BUILD_TESTS=OFF -DKAA_BUILD_EXAMPLES=OFF -DKAA_SANITIZE=
	$(CMAKE) --build build/bench -j$(JOBS)
	@if [ -f bench/run.sh ]; then \
	    echo "KAA_BUILD_DIR=$(CURDIR)/build/bench bash bench/run.sh"; \
	    KAA_BUILD_DIR="$(CURDIR)/build/bench" bash bench/run.sh; \
	else \
	    echo "bench: no bench/run.sh; binaries are in build/bench/bench/"; \
	fi

clean:
	rm -rf build
