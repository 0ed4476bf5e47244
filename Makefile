# libvmm: the two commands are `make run` and `make test` (README.md).

BUILD ?= build
SHELL := /bin/bash
export LIBVMM_CACHE ?= $(HOME)/.cache/libvmm

.DEFAULT_GOAL := all
.PHONY: all deps lib test format format-check clean system-test

# Install whatever is missing (Debian packages only). A stamp keeps repeat
# runs fast; it is refreshed when the script changes.
DEPS_STAMP := $(BUILD)/.deps-installed
$(DEPS_STAMP): tools/install-deps.sh
	tools/install-deps.sh
	@mkdir -p $(dir $@) && touch $@

include mk/lib.mk
include mk/unit.mk
include mk/hyp.mk
include mk/guest.mk
include mk/testguests.mk
include mk/examples.mk
-include mk/fuzz.mk
-include mk/bench.mk

deps: $(DEPS_STAMP)

lib: $(DEPS_STAMP)
	$(MAKE) $(HOST_LIB) $(TARGET_LIB)

all: lib
	$(MAKE) image testguests

test: $(DEPS_STAMP)
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) sanitize
	$(MAKE) system-test
	$(MAKE) fuzz-smoke
	$(MAKE) bench-guard

system-test:
	@tools/run-system-tests.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
