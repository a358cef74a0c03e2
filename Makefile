# goro — build, test, demo, bench, install. See README.md.
CC      ?= cc
PREFIX  ?= /usr/local
VERSION := 0.1.0

WARN    := -Wall -Wextra -Werror
CSTD    := -std=gnu11 -D_GNU_SOURCE
INC     := -Iinclude -Isrc
# Hidden visibility: the libraries export only the goro_* API.
# Frame pointers: goroutine dumps walk them.
LIBFLAGS := $(CSTD) $(WARN) -g -fPIC -fno-omit-frame-pointer -fvisibility=hidden -ftls-model=initial-exec $(INC)

SRCS := $(wildcard src/*.c)
ASMS := src/asm_amd64.S
TESTS := $(patsubst tests/%.c,%,$(wildcard tests/test_*.c))

# Three builds: release, ThreadSanitizer, AddressSanitizer+UBSan.
CFLAGS_release := -O2
CFLAGS_tsan    := -O1 -fsanitize=thread
CFLAGS_asan    := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
TESTDEF_release :=
TESTDEF_tsan    := -DGORO_TEST_SANITIZER
TESTDEF_asan    := -DGORO_TEST_SANITIZER

BUILD_release := build
BUILD_tsan    := build/tsan
BUILD_asan    := build/asan

.PHONY: all test test-release test-tsan test-asan stress demo bench install clean examples

all: build/libgoro.a build/libgoro.so build/libgoro-internal.a

define config
$(BUILD_$(1))/obj/%.o: src/%.c src/*.h include/goro.h | $(BUILD_$(1))/obj
	$$(CC) $$(LIBFLAGS) $$(CFLAGS_$(1)) -c $$< -o $$@
$(BUILD_$(1))/obj/%.o: src/%.S | $(BUILD_$(1))/obj
	$$(CC) $$(CFLAGS_$(1)) -c $$< -o $$@
$(BUILD_$(1))/obj:
	mkdir -p $$@
$(BUILD_$(1))/libgoro-internal.a: $(patsubst src/%.c,$(BUILD_$(1))/obj/%.o,$(SRCS)) $(patsubst src/%.S,$(BUILD_$(1))/obj/%.o,$(ASMS))
	rm -f $$@ && ar rcs $$@ $$^
$(BUILD_$(1))/tests/%: tests/%.c $(wildcard tests/*.h) $(BUILD_$(1))/libgoro-internal.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(CSTD) $(WARN) -g $$(CFLAGS_$(1)) $$(TESTDEF_$(1)) $(INC) $$< $(BUILD_$(1))/libgoro-internal.a -lpthread -o $$@
test-$(1): $(addprefix $(BUILD_$(1))/tests/,$(TESTS))
	tests/run.sh $(BUILD_$(1))
endef
$(eval $(call config,release))
$(eval $(call config,tsan))
$(eval $(call config,asan))

# The static library is one relocatable object with every internal symbol
# made local, so names like "schedule" cannot clash with the user's.
build/libgoro.a: build/libgoro-internal.a
	ld -r -o build/goro.o --whole-archive $< --no-whole-archive
	objcopy --localize-hidden build/goro.o
	rm -f $@ && ar rcs $@ build/goro.o

build/libgoro.so: build/libgoro-internal.a
	$(CC) -shared -o $@ -Wl,--whole-archive $< -Wl,--no-whole-archive -Wl,-soname,libgoro.so -lpthread

test: examples test-release test-tsan test-asan

# The timing-sensitive tests many times over, with the other cores busy
# (tests/stress.sh). Not part of make test: 50 runs take about 20 minutes.
STRESS_RUNS ?= 50
stress: $(addprefix build/tests/,$(TESTS))
	tests/stress.sh build $(STRESS_RUNS)

build/examples/%: examples/%.c build/libgoro.a
	@mkdir -p build/examples
	$(CC) $(CSTD) $(WARN) -O2 -g -Iinclude $< build/libgoro.a -lpthread -o $@

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
	install -m 644 docs/API.md $(DESTDIR)$(PREFIX)/share/doc/goro/

clean:
	rm -rf build
