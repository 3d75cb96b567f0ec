# kaa for C++ — convenience front end over CMake.
#
#   make deps     install missing Debian packages (as root), or warn about them
#   make demo     Release build of the examples (output in build/demo-build.log, shown only if
#                 the build fails), then run the tour
#   make docs     API reference from the `///` comments (Doxygen) into build/docs/html; as root
#                 it first installs doxygen if missing (not part of DEPS)
#   make test     format-check, then four builds, ctest in each: debug (clang++, -O0, plus
#                 the package tests), o2 (g++ -O2 -g, asserts on), asan (g++, ASan+UBSan),
#                 tsan (g++, TSan); then test-fuzz (`make fuzz` for 10 s per target)
#   make format   clang-format every source file in place (format-check: fail on drift)
#   make install  Release build of the library, installed into PREFIX (default /usr/local):
#                 headers, libkaa, the CMake package (find_package(kaa)) and kaa.pc;
#                 SHARED=ON for a shared library
#   make bench    Release build with benchmarks, then bench/run.sh
#   make soak     the chaos soak (tests/soak/) in the ASan+UBSan build (build/asan) for
#                 SOAK_SECONDS (default 60); SOAK_SEED=S replays a run
#   make fuzz     clang++ libFuzzer build (ASan+UBSan) in build/fuzz, then each fuzz/ target for
#                 FUZZ_SECONDS (default 60) on a copy of its corpus; fails on any finding
#                 (FUZZ_PLANTED_BUG=ON: the planted bug the model fuzzer must find)
#   make clean    remove build/

JOBS   ?= 2
CMAKE  ?= cmake
CTEST  ?= ctest
PREFIX ?= /usr/local
SHARED ?= OFF

DEPS := g++ clang clang-format cmake make pkg-config libgtest-dev libbenchmark-dev libasio-dev \
        libclang-rt-14-dev
# Only for `make docs`.
DOCS_DEPS := doxygen

# Compilers: g++ for everything but the debug build, which uses clang++ (14: Debian's `clang`)
# so that both compilers' warnings are errors in `make test`. Without clang++ (and without root
# to install it) the debug build falls back to g++ with a warning. `make test` runs the builds
# in sub-makes, after `deps` installed what it could, so this detection sees a fresh install.
ifeq ($(origin CLANGXX),undefined)
CLANGXX := $(shell command -v clang++-14 2>/dev/null || command -v clang++ 2>/dev/null)
endif
ifeq ($(origin GXX),undefined)
GXX := $(shell command -v g++ 2>/dev/null || echo g++)
endif
DEBUG_CXX := $(or $(CLANGXX),$(GXX))

# Each gtest test is its own ctest test (gtest_discover_tests): run two at a time.
CTEST_FLAGS ?= --output-on-failure -j$(JOBS)

ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
TSAN_ENV := TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

# TSan (gcc 12 / clang 14) aborts with "unexpected memory mapping" when the kernel
# randomizes mmap with high entropy; running with ASLR disabled avoids it.
NO_ASLR := $(shell setarch $$(uname -m) -R true >/dev/null 2>&1 && echo "setarch $$(uname -m) -R")

# Options every `make test` build sets explicitly (a stale cache never decides them).
TEST_OPTS := -DKAA_WERROR=ON -DKAA_BUILD_TESTS=ON -DKAA_BUILD_EXAMPLES=ON -DKAA_BUILD_BENCH=OFF
# Sanitizer builds: -O1 keeps them fast enough, and no -DNDEBUG keeps assert() on.
SAN_FLAGS := -DCMAKE_CXX_COMPILER=$(GXX) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
             -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" $(TEST_OPTS) -DKAA_PACKAGE_TESTS=OFF
# Release for demo, install and bench: -O2.
REL_FLAGS := -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG"

# $(call fresh_if_compiler_changed,DIR,COMPILER): a build dir configured with another compiler
# starts afresh; CMake itself would drop its cache and with it this run's -D options.
fresh_if_compiler_changed = @if [ -f $(1)/CMakeCache.txt ] && \
    ! grep -qx 'CMAKE_CXX_COMPILER:[A-Z]*=$(2)' $(1)/CMakeCache.txt; then \
    echo "$(1): the compiler is now $(2): removing the old build"; rm -rf $(1); fi

include format-targets.mk

.PHONY: all deps docs-deps demo docs test test-debug test-o2 test-asan test-tsan test-fuzz fuzz install bench soak clean

all: test

# $(call install_missing,PACKAGES): as root, apt-get install those of PACKAGES not installed;
# otherwise warn about them.
define install_missing
	@missing=""; \
	if ! command -v dpkg-query >/dev/null 2>&1; then \
	    echo "$@: dpkg-query not found (not Debian?); make sure these are installed: $(1)"; \
	    exit 0; \
	fi; \
	for p in $(1); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" \
	        || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	    echo "$@: installing$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
	else \
	    echo "$@: WARNING: missing packages:$$missing (run 'sudo make $@' or apt-get install them)" >&2; \
	fi
endef

deps:
	$(call install_missing,$(DEPS))

docs-deps:
	$(call install_missing,$(DOCS_DEPS))

# Quiet: the configure and build output goes to build/demo-build.log, printed only on failure,
# so that the tour is all the terminal shows.
DEMO_LOG := build/demo-build.log

demo: deps
	@mkdir -p build; echo "demo: building the examples (Release; log: $(DEMO_LOG)) ..."; \
	if ! { $(CMAKE) -S . -B build/release $(REL_FLAGS) \
	           -DKAA_BUILD_TESTS=OFF -DKAA_BUILD_EXAMPLES=ON -DKAA_BUILD_BENCH=OFF -DKAA_SANITIZE= \
	       && $(CMAKE) --build build/release -j$(JOBS); } >$(DEMO_LOG) 2>&1; then \
	    cat $(DEMO_LOG); echo "demo: the build failed (log: $(DEMO_LOG))" >&2; exit 1; \
	fi
	@./build/release/examples/tour

# The API reference: Doxygen over the `///` comments of include/kaa/ (docs/Doxyfile).
docs: docs-deps
	@command -v doxygen >/dev/null 2>&1 || \
	    { echo "docs: doxygen not found (Debian: apt-get install doxygen, or 'sudo make docs')" >&2; \
	      exit 1; }
	@mkdir -p build/docs
	doxygen docs/Doxyfile
	@echo "docs: build/docs/html/index.html"

test: deps
	$(MAKE) --no-print-directory format-check
	$(MAKE) --no-print-directory test-debug
	$(MAKE) --no-print-directory test-o2
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory test-tsan
	$(MAKE) --no-print-directory test-fuzz

# clang++, -O0, libstdc++ assertions, and the package tests (tests/package: kaa used from
# outside through add_subdirectory, FetchContent, find_package and pkg-config).
test-debug:
ifeq ($(CLANGXX),)
	@echo "test-debug: WARNING: clang++ not found (Debian package 'clang': run 'sudo make deps');" \
	      "the debug build uses $(GXX) instead" >&2
endif
	$(call fresh_if_compiler_changed,build/debug,$(DEBUG_CXX))
	$(CMAKE) -S . -B build/debug -DCMAKE_CXX_COMPILER=$(DEBUG_CXX) -DCMAKE_BUILD_TYPE=Debug \
	    -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g -D_GLIBCXX_ASSERTIONS" \
	    $(TEST_OPTS) -DKAA_SANITIZE= -DKAA_PACKAGE_TESTS=ON
	$(CMAKE) --build build/debug -j$(JOBS)
	cd build/debug && $(CTEST) $(CTEST_FLAGS)

# g++ -O2 with assert() on: warnings that only GCC's optimizer sees (-Warray-bounds,
# -Wmaybe-uninitialized, -Wstringop-*), and the suite at the optimization users build with,
# against a shared libkaa (hidden visibility: whatever the headers need must be exported).
test-o2:
	$(call fresh_if_compiler_changed,build/o2,$(GXX))
	$(CMAKE) -S . -B build/o2 -DCMAKE_CXX_COMPILER=$(GXX) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g" \
	    $(TEST_OPTS) -DKAA_SANITIZE= -DKAA_PACKAGE_TESTS=OFF -DBUILD_SHARED_LIBS=ON
	$(CMAKE) --build build/o2 -j$(JOBS)
	cd build/o2 && $(CTEST) $(CTEST_FLAGS)

test-asan:
	$(call fresh_if_compiler_changed,build/asan,$(GXX))
	$(CMAKE) -S . -B build/asan $(SAN_FLAGS) -DKAA_SANITIZE=address
	$(CMAKE) --build build/asan -j$(JOBS)
	cd build/asan && env $(ASAN_ENV) $(CTEST) $(CTEST_FLAGS)

test-tsan:
	$(call fresh_if_compiler_changed,build/tsan,$(GXX))
	$(CMAKE) -S . -B build/tsan $(SAN_FLAGS) -DKAA_SANITIZE=thread
	$(CMAKE) --build build/tsan -j$(JOBS)
	cd build/tsan && env $(TSAN_ENV) $(NO_ASLR) $(CTEST) $(CTEST_FLAGS)

# The chaos soak (issue 14): built and run in the ASan+UBSan build dir that test-asan uses
# (whose ctest run includes 20 seconds of it, soak_20s).
SOAK_SECONDS ?= 60
soak: deps
	$(call fresh_if_compiler_changed,build/asan,$(GXX))
	$(CMAKE) -S . -B build/asan $(SAN_FLAGS) -DKAA_SANITIZE=address
	$(CMAKE) --build build/asan -j$(JOBS) --target kaa_soak
	env $(ASAN_ENV) ./build/asan/kaa_soak --seconds $(SOAK_SECONDS) $(if $(SOAK_SEED),--seed $(SOAK_SEED))
# libFuzzer (clang++ only; the runtime is Debian's libclang-rt-14-dev): the library and fuzz/'s
# targets with ASan+UBSan and coverage instrumentation, then fuzz/run.sh runs each target for
# FUZZ_SECONDS on a fresh copy of fuzz/corpus/<target> (the committed corpus never grows).
FUZZ_SECONDS ?= 60
FUZZ_PLANTED_BUG ?= OFF
FUZZ_TARGETS := fuzz_socket_address fuzz_io_channel fuzz_model
# The planted bug gets a build dir of its own (its define would rebuild the whole library).
FUZZ_DIR = $(if $(filter ON,$(FUZZ_PLANTED_BUG)),build/fuzz-planted,build/fuzz)
fuzz: deps
ifeq ($(CLANGXX),)
	@echo "fuzz: clang++ not found (Debian packages clang, libclang-rt-14-dev)" >&2; exit 1
endif
	$(call fresh_if_compiler_changed,$(FUZZ_DIR),$(CLANGXX))
	$(CMAKE) -S . -B $(FUZZ_DIR) -DCMAKE_CXX_COMPILER=$(CLANGXX) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DKAA_WERROR=ON -DKAA_SANITIZE=address \
	    -DKAA_BUILD_FUZZERS=ON -DKAA_FUZZ_PLANTED_BUG=$(FUZZ_PLANTED_BUG) -DKAA_BUILD_TESTS=OFF \
	    -DKAA_BUILD_EXAMPLES=OFF -DKAA_BUILD_BENCH=OFF -DKAA_PACKAGE_TESTS=OFF
	$(CMAKE) --build $(FUZZ_DIR) -j$(JOBS) --target $(FUZZ_TARGETS)
	bash fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The 10-second run of `make test` (skipped with a warning without clang++).
test-fuzz:
ifeq ($(CLANGXX),)
	@echo "test-fuzz: WARNING: clang++ not found: the fuzzers are not run" >&2
else
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10 FUZZ_PLANTED_BUG=OFF
endif

# The library only (no tests, no examples); `cmake --install` honours DESTDIR for staging.
# The prefix is also given at configure time: GNUInstallDirs picks lib/<multiarch> for /usr.
install: deps
	$(CMAKE) -S . -B build/install $(REL_FLAGS) -DBUILD_SHARED_LIBS=$(SHARED) \
	    -DCMAKE_INSTALL_PREFIX="$(PREFIX)" \
	    -DKAA_BUILD_TESTS=OFF -DKAA_BUILD_EXAMPLES=OFF -DKAA_BUILD_BENCH=OFF -DKAA_SANITIZE= \
	    -DKAA_INSTALL=ON
	$(CMAKE) --build build/install -j$(JOBS)
	$(CMAKE) --install build/install --prefix "$(PREFIX)"

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
