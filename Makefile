# goro — build, test, demo, bench, install. See README.md.
#
# Three builds: release (build/), ThreadSanitizer (build/tsan/) and
# AddressSanitizer+UBSan (build/asan/). Each has
#   libgoro-internal.a  the objects as compiled, every symbol visible
#   libgoro.a           what is shipped: one relocatable object with every
#                       hidden (internal) symbol made local
# and the release build also has libgoro.so.
#
# Two kinds of tests, kept apart by the WHITEBOX list below:
#   white-box  tests that include src/ headers ("runtime.h", "chan.h", or
#              tests/chanwait.h, which includes chan.h) to look at the
#              runtime's internals. Compiled with -Iinclude -Isrc, linked
#              against libgoro-internal.a.
#   public     every other tests/test_*.c. Compiled with -Iinclude alone and
#              linked against the shipped libgoro.a of the same build, the
#              way a user's program is, so a missing export or a clash with
#              a localized name fails here first. A new test that includes a
#              src/ header fails to compile until it is added to WHITEBOX.
#              test_api is also linked against build/libgoro.so
#              (build/tests/test_api_so).
# and two more in every build:
#   test_cxx_header  tests/test_cxx_header.cpp: <goro.h> from C++17 (needs $(CXX))
#   test_symbols     tests/test_symbols.sh: the libraries define no global
#                    symbol outside goro_* (a wrapper in BUILD_DIR/tests/)
#
#   make test                      examples, then every test in all three
#                                  builds at GOMAXPROCS 1, 2 and 8
#   make test-release              (or test-tsan, test-asan) one build
#   make test T=chan BUILD=tsan PROCS=2
#                                  T: test names without test_ (several:
#                                  T="chan select"), BUILD: release, tsan or
#                                  asan, PROCS: GOMAXPROCS values (default
#                                  "1 2 8"); any of the three may be left out
#
# The user's CPPFLAGS, CFLAGS, CXXFLAGS and LDFLAGS are appended to the
# project's flags (warnings, -fvisibility=hidden, ... stay; a later -O wins).
CC      ?= cc
CXX     ?= g++
NM      ?= nm
PREFIX  ?= /usr/local
VERSION := 0.1.0

# The architecture, by Go's names: uname -m's x86_64 becomes amd64 (and
# aarch64 arm64, once src/asm_arm64.S and src/arch_arm64.h exist). ARCH=x86_64
# from the environment or the command line is mapped the same way.
ARCH    ?= $(shell uname -m)
override ARCH := $(patsubst x86_64,amd64,$(patsubst aarch64,arm64,$(ARCH)))
ASMS    := src/asm_$(ARCH).S
ifeq ($(wildcard $(ASMS)),)
$(error ARCH=$(ARCH): no $(ASMS); goro has no port to this architecture)
endif

WARN    := -Wall -Wextra -Werror
CSTD    := -std=gnu11 -D_GNU_SOURCE
INC     := -Iinclude -Isrc
# -MMD -MP: each object gets a .d file listing the headers it included
# (read back by the -include at the end), so a header change rebuilds what
# uses it and nothing else.
DEPFLAGS = -MMD -MP -MF $@.d -MT $@
# Hidden visibility: the libraries export only the goro_* API.
# Frame pointers: goroutine dumps walk them.
LIBFLAGS := $(CSTD) $(WARN) -g -fPIC -fno-omit-frame-pointer -fvisibility=hidden -ftls-model=initial-exec $(INC)

SRCS := $(wildcard src/*.c)

# Tests that include src/ headers (see the top of this file). Kept by hand:
#   grep -l '"runtime.h"\|"chan.h"\|chanwait.h' tests/test_*.c
WHITEBOX := test_alloc test_chan test_deadlock test_fairness test_lockrank test_maxprocs test_pingpong \
            test_runq test_select test_stackoverflow test_timer_races
# A white-box test's own link flags: test_alloc makes the runtime's
# allocations (and epoll_ctl, fcntl) fail through --wrap.
LINK_test_alloc := -Wl,--wrap=malloc,--wrap=realloc,--wrap=epoll_ctl,--wrap=fcntl
CTESTS   := $(patsubst tests/%.c,%,$(wildcard tests/test_*.c))
PUBLIC   := $(filter-out $(WHITEBOX),$(CTESTS))
# Every test program of each build.
TESTS_release := $(CTESTS) test_api_so test_cxx_header test_symbols
TESTS_tsan    := $(CTESTS) test_cxx_header test_symbols
TESTS_asan    := $(TESTS_tsan)
# What test_symbols checks in each build.
SHIPPED_release := build/libgoro.a build/libgoro.so
SHIPPED_tsan    := build/tsan/libgoro.a
SHIPPED_asan    := build/asan/libgoro.a

# Three builds: release, ThreadSanitizer, AddressSanitizer+UBSan.
BUILDS := release tsan asan
CFLAGS_release := -O2
# GORO_LOCKRANK: the sanitizer builds check the lock order of
# src/lockrank.h (white-box tests see the same lock layout).
CFLAGS_tsan    := -O1 -fsanitize=thread -DGORO_LOCKRANK
CFLAGS_asan    := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -DGORO_LOCKRANK
TESTDEF_release :=
TESTDEF_tsan    := -DGORO_TEST_SANITIZER
TESTDEF_asan    := -DGORO_TEST_SANITIZER

BUILD_release := build
BUILD_tsan    := build/tsan
BUILD_asan    := build/asan

# Test selection: T (names, with or without test_), BUILD, PROCS.
T     ?=
BUILD ?=
PROCS ?= 1 2 8
T_SEL := $(addprefix test_,$(patsubst test_%,%,$(T)))
$(foreach t,$(T_SEL),$(if $(filter $(t),$(TESTS_release)),,$(error T: no test $(t) (tests: $(patsubst test_%,%,$(TESTS_release))))))
$(if $(filter-out $(BUILDS),$(BUILD)),$(error BUILD=$(BUILD): one of $(BUILDS)))
# The programs make test-<build> builds and runs: all, or those T names.
sel = $(if $(T_SEL),$(filter $(T_SEL),$(TESTS_$(1))),$(TESTS_$(1)))

.PHONY: all test test-release test-tsan test-asan stress demo bench install clean examples

all: build/libgoro.a build/libgoro.so build/libgoro-internal.a

# Test flags: those of the library's build (sanitizers must match); the
# user's come after the include directories (a goro.h installed elsewhere
# must not shadow include/goro.h) and last.
TESTCFLAGS = $(CSTD) $(WARN) -g $(CFLAGS_$(1)) $(TESTDEF_$(1))
USERFLAGS  = $(CPPFLAGS) $(CFLAGS)

define config
$(BUILD_$(1))/obj/%.o: src/%.c | $(BUILD_$(1))/obj
	$$(CC) $$(LIBFLAGS) $$(CFLAGS_$(1)) $$(CPPFLAGS) $$(CFLAGS) $$(DEPFLAGS) -c $$< -o $$@
$(BUILD_$(1))/obj/%.o: src/%.S | $(BUILD_$(1))/obj
	$$(CC) $$(CFLAGS_$(1)) $$(CPPFLAGS) $$(CFLAGS) $$(DEPFLAGS) -c $$< -o $$@
$(BUILD_$(1))/obj $(BUILD_$(1))/tests:
	mkdir -p $$@
$(BUILD_$(1))/libgoro-internal.a: $(patsubst src/%.c,$(BUILD_$(1))/obj/%.o,$(SRCS)) $(patsubst src/%.S,$(BUILD_$(1))/obj/%.o,$(ASMS))
	rm -f $$@ && ar rcs $$@ $$^

# The shipped static library is one relocatable object with every internal
# (hidden) symbol made local, so names like "schedule" cannot clash with the
# user's. The sanitizer builds get one too: their public tests link it.
$(BUILD_$(1))/libgoro.a: $(BUILD_$(1))/libgoro-internal.a
	ld -r -o $(BUILD_$(1))/goro.o --whole-archive $$< --no-whole-archive
	objcopy --localize-hidden $(BUILD_$(1))/goro.o
	rm -f $$@ && ar rcs $$@ $(BUILD_$(1))/goro.o

$(addprefix $(BUILD_$(1))/tests/,$(WHITEBOX)): $(BUILD_$(1))/tests/%: tests/%.c $(BUILD_$(1))/libgoro-internal.a | $(BUILD_$(1))/tests
	$$(CC) $$(call TESTCFLAGS,$(1)) $(INC) $$(USERFLAGS) $$(DEPFLAGS) $$< $(BUILD_$(1))/libgoro-internal.a $$(LINK_$$*) -lpthread $$(LDFLAGS) -o $$@
$(addprefix $(BUILD_$(1))/tests/,$(PUBLIC)): $(BUILD_$(1))/tests/%: tests/%.c $(BUILD_$(1))/libgoro.a | $(BUILD_$(1))/tests
	$$(CC) $$(call TESTCFLAGS,$(1)) -Iinclude $$(USERFLAGS) $$(DEPFLAGS) $$< $(BUILD_$(1))/libgoro.a -lpthread $$(LDFLAGS) -o $$@

# The flags the issue asks of a C++ user: -std=c++17 -Wall -Wextra -Werror.
$(BUILD_$(1))/tests/test_cxx_header: tests/test_cxx_header.cpp $(BUILD_$(1))/libgoro.a | $(BUILD_$(1))/tests
	@command -v $$(CXX) >/dev/null 2>&1 || { echo "Makefile: no C++ compiler '$$(CXX)': tests/test_cxx_header.cpp needs one (Debian 12: apt-get install g++; or make CXX=clang++)" >&2; exit 1; }
	$$(CXX) -std=c++17 $(WARN) -g $(CFLAGS_$(1)) $(TESTDEF_$(1)) -Iinclude $$(CPPFLAGS) $$(CXXFLAGS) $$(DEPFLAGS) $$< $(BUILD_$(1))/libgoro.a -lpthread $$(LDFLAGS) -o $$@

# A script, not a program: run.sh runs BUILD_DIR/tests/test_*, so a
# two-line wrapper there hands it this build's libraries.
$(BUILD_$(1))/tests/test_symbols: tests/test_symbols.sh $(SHIPPED_$(1)) | $(BUILD_$(1))/tests
	printf '#!/bin/sh\n# Written by the Makefile.\nexec "%s" %s\n\n' '$(CURDIR)/tests/test_symbols.sh' '$(addprefix $(CURDIR)/,$(SHIPPED_$(1)))' > $$@
	chmod +x $$@

test-$(1): $$(addprefix $(BUILD_$(1))/tests/,$$(call sel,$(1)))
	$$(if $$(call sel,$(1)),PROCS='$$(PROCS)' tests/run.sh $(BUILD_$(1)) $$(call sel,$(1)),@echo "test-$(1): T=$$(T) is not built here")

-include $(wildcard $(BUILD_$(1))/obj/*.d $(BUILD_$(1))/tests/*.d)
endef
$(foreach b,$(BUILDS),$(eval $(call config,$(b))))

# test_api once more, against the shared library (found through the rpath).
build/tests/test_api_so: tests/test_api.c build/libgoro.so | build/tests
	$(CC) $(call TESTCFLAGS,release) -Iinclude $(USERFLAGS) $(DEPFLAGS) $< build/libgoro.so -Wl,-rpath,'$$ORIGIN/..' -lpthread $(LDFLAGS) -o $@

build/libgoro.so: build/libgoro-internal.a
	$(CC) -shared -o $@ -Wl,--whole-archive $< -Wl,--no-whole-archive -Wl,-soname,libgoro.so -lpthread $(LDFLAGS)

# Plain make test: the examples and every build. With T or BUILD, only the
# tests asked for.
test: $(if $(T)$(BUILD),,examples) $(addprefix test-,$(or $(BUILD),$(BUILDS)))

# The timing-sensitive tests many times over, with the other cores busy
# (tests/stress.sh). Not part of make test: 50 runs take about 20 minutes.
STRESS_RUNS ?= 50
stress: $(addprefix build/tests/,$(CTESTS))
	tests/stress.sh build $(STRESS_RUNS)

build/examples/%: examples/%.c build/libgoro.a
	@mkdir -p build/examples
	$(CC) $(CSTD) $(WARN) -O2 -g -Iinclude $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) $< build/libgoro.a -lpthread $(LDFLAGS) -o $@
-include $(wildcard build/examples/*.d)

examples: $(patsubst examples/%.c,build/examples/%,$(wildcard examples/*.c))

demo: build/examples/demo
	GODEBUG=schedtrace=1000 build/examples/demo

bench: all
	bash bench/run.sh

install: build/libgoro.a build/libgoro.so
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/goro.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 build/libgoro.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 build/libgoro.so $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' goro.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/goro.pc
	install -d $(DESTDIR)$(PREFIX)/share/doc/goro
	install -m 644 docs/API.md docs/design.md docs/benchmarks.md README.md $(DESTDIR)$(PREFIX)/share/doc/goro/

clean:
	rm -rf build
