# format-targets.mk: clang-format targets for kaa. Include it from the Makefile
# (`include format-targets.mk`) or paste it in.
#
#   make format        reformat every *.hpp / *.cpp under include src tests examples bench in place
#   make format-check  list the files whose formatting differs from .clang-format; fail if any does
#
# To make `make test` fail on drift, let it run the check first, e.g.
#     test: deps
#     	$(MAKE) --no-print-directory format-check
#     	$(MAKE) --no-print-directory test-debug
#     	...
# and add `clang-format` to DEPS (Debian 12: the package `clang-format` is clang-format 14).
#
# The style (.clang-format, tests/.clang-format) is tuned for and checked with clang-format 14:
# another major version formats some constructs differently and would report drift that 14 does
# not, so clang-format-14 is preferred when it is installed, and the check warns about any other
# version. Override with `make format-check CLANG_FORMAT=/path/to/clang-format`.

CLANG_FORMAT ?= $(shell command -v clang-format-14 2>/dev/null || echo clang-format)
CLANG_FORMAT_VERSION := 14
FORMAT_DIRS ?= include src tests examples bench fuzz
# Evaluated when a target runs, so files added or moved since are included.
FORMAT_FILES = $(shell find $(FORMAT_DIRS) -type f \( -name '*.hpp' -o -name '*.cpp' \) \
                   2>/dev/null | LC_ALL=C sort)

# Fails with a clear message when clang-format is missing; warns on another major version.
define KAA_CLANG_FORMAT_PRECHECK
@if ! command -v $(CLANG_FORMAT) >/dev/null 2>&1; then \
	    echo "$@: '$(CLANG_FORMAT)' not found: install clang-format $(CLANG_FORMAT_VERSION)" \
	         "(Debian 12: apt-get install clang-format, or 'sudo make deps')" >&2; \
	    exit 2; \
	fi; \
	v=$$($(CLANG_FORMAT) --version | sed -n 's/.*version \([0-9][0-9]*\)\..*/\1/p'); \
	if [ "$$v" != "$(CLANG_FORMAT_VERSION)" ]; then \
	    echo "$@: warning: $(CLANG_FORMAT) is version $${v:-unknown}; the style is checked" \
	         "with clang-format $(CLANG_FORMAT_VERSION), so results may differ" >&2; \
	fi
endef

.PHONY: format format-check

format:
	$(KAA_CLANG_FORMAT_PRECHECK)
	@files='$(FORMAT_FILES)'; \
	if [ -z "$$files" ]; then echo "format: no *.hpp/*.cpp under $(FORMAT_DIRS)"; exit 0; fi; \
	$(CLANG_FORMAT) -i --style=file $$files && \
	echo "format: formatted $$(echo $$files | wc -w) files under $(FORMAT_DIRS)"

# --dry-run --Werror: exit status 1 when a file would change (includes regrouped or
# reordered count too); the file is left untouched.
format-check:
	$(KAA_CLANG_FORMAT_PRECHECK)
	@bad=""; n=0; \
	for f in $(FORMAT_FILES); do \
	    n=$$((n + 1)); \
	    $(CLANG_FORMAT) --dry-run --Werror --style=file "$$f" >/dev/null 2>&1 || bad="$$bad $$f"; \
	done; \
	if [ -n "$$bad" ]; then \
	    echo "format-check: these files differ from .clang-format (run 'make format'," \
	         "or '$(CLANG_FORMAT) --dry-run FILE' to see where):" >&2; \
	    for f in $$bad; do echo "  $$f" >&2; done; \
	    exit 1; \
	fi; \
	echo "format-check: $$n files match .clang-format"
