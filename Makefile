# qpipe: one non-recursive Makefile.
#
#   make            build every tool into bin/
#   make check      build and run every test (unit, CLI, conformance)
#   make example    install what is missing, build, run the bundled example
#   make deps       install the Debian packages qpipe needs (apt-get)
#   make asan       the same build and tests with -fsanitize=address,undefined
#   make fuzz       a short fuzzing campaign on that build (FUZZ_RUNS=200)
#   make install    PREFIX=/usr/local
#
# Each directory under stages/ and tools/ is one executable, built from the
# .c files in it; a module.mk beside them may add generated sources or
# libraries.  V=1 shows full commands; DEBUG=1 builds without optimisation.

.DELETE_ON_ERROR:
.SUFFIXES:
.DEFAULT_GOAL := all

V ?= 0
Q := $(if $(filter 1,$(V)),,@)
say = $(if $(filter 1,$(V)),,@printf '  %-8s %s\n' $(1) $(2);)

CC ?= cc
PREFIX ?= /usr/local
BUILD ?= build
BIN ?= bin
PKG_CONFIG ?= pkg-config

PKGS := libcjson libprotobuf-c hdf5 libzip openblas zlib libpng libjpeg
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

OPT := $(if $(DEBUG),-O0,-O2)
SAN ?=
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter -Werror
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) -g $(SAN) -MMD -MP
# lib/ is one folder per module group (docs/decisions.md); headers are
# included by their own names, so every group is on the include path.
LIB_DIRS := base ir ops quant data exec
LIB_INC := $(addprefix -Ilib/,$(LIB_DIRS))
CFLAGS_OURS = $(BASE_CFLAGS) $(WARN) $(LIB_INC) -Iruntime -I$(BUILD)/gen $(PKG_CFLAGS) $(EXTRA_CFLAGS)
# Vendored or generated code: its own, quieter flags.
CFLAGS_EXT = $(BASE_CFLAGS) -w $(LIB_INC) -I$(BUILD)/gen $(PKG_CFLAGS)
# The runtime is C99 with no dependencies, so firmware can take it as is.
CFLAGS_RT = -std=c99 -pedantic $(OPT) -g $(SAN) -MMD -MP $(WARN) -Iruntime $(EXTRA_CFLAGS)
LDFLAGS_ALL = $(SAN) $(LDFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lm $(LDLIBS)

# ---- libraries -------------------------------------------------------------
LIB_SRCS := $(wildcard $(addprefix lib/,$(addsuffix /*.c,$(LIB_DIRS))))
LIB_EXT_SRCS := $(wildcard lib/ext/*.c)
RT_SRCS := $(wildcard runtime/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o) $(LIB_EXT_SRCS:%.c=$(BUILD)/%.o)
RT_OBJS := $(RT_SRCS:%.c=$(BUILD)/%.o)
LIBQPIPE := $(BUILD)/libqpipe.a
LIBQPRT := $(BUILD)/libqprt.a

# ---- programs --------------------------------------------------------------
PROG_DIRS := $(patsubst %/,%,$(sort $(dir $(wildcard stages/*/*.c tools/*/*.c))))
PROGS := $(foreach d,$(PROG_DIRS),$(BIN)/$(notdir $(d)))
GEN_SRCS :=
ALL_OBJS := $(LIB_OBJS) $(RT_OBJS)

# module.mk files may append to GEN_SRCS and set <prog>_EXTRA_OBJS and
# <prog>_LIBS (extra link flags for that program only).
-include $(wildcard stages/*/module.mk tools/*/module.mk tests/*/module.mk bench/module.mk)

define prog_rule
$(1)_OBJS := $$(patsubst %.c,$$(BUILD)/%.o,$$(wildcard $(2)/*.c)) $$($(1)_EXTRA_OBJS)
ALL_OBJS += $$($(1)_OBJS)
$$(BIN)/$(1): $$($(1)_OBJS) $$(LIBQPIPE) $$(LIBQPRT)
	$$(call say,LINK,$$@)mkdir -p $$(@D) && $$(CC) $$(LDFLAGS_ALL) -o $$@ $$($(1)_OBJS) $$(LIBQPIPE) $$(LIBQPRT) $$($(1)_LIBS) $$(LDLIBS_ALL)
endef
$(foreach d,$(PROG_DIRS),$(eval $(call prog_rule,$(notdir $(d)),$(d))))

# ---- unit tests --------------------------------------------------------------
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
ALL_OBJS += $(UNIT_SRCS:%.c=$(BUILD)/%.o)
# Keep the test objects: make would delete them as intermediates and rebuild.
.SECONDARY: $(UNIT_SRCS:%.c=$(BUILD)/%.o)

.PHONY: all check example deps asan fuzz install clean bench unit-tests
all: $(PROGS)

$(LIBQPIPE): $(LIB_OBJS)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^
$(LIBQPRT): $(RT_OBJS)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

$(BUILD)/lib/ext/%.o: lib/ext/%.c
	$(call say,CC,$<)mkdir -p $(@D) && $(CC) $(CFLAGS_EXT) -c -o $@ $<
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(call say,CC,$<)mkdir -p $(@D) && $(CC) $(CFLAGS_EXT) -c -o $@ $<
$(BUILD)/runtime/%.o: runtime/%.c
	$(call say,CC,$<)mkdir -p $(@D) && $(CC) $(CFLAGS_RT) -c -o $@ $<
$(BUILD)/%.o: %.c | $(GEN_SRCS)
	$(call say,CC,$<)mkdir -p $(@D) && $(CC) $(CFLAGS_OURS) -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIBQPIPE) $(LIBQPRT)
	$(call say,LINK,$@)mkdir -p $(@D) && $(CC) $(LDFLAGS_ALL) -o $@ $< $(LIBQPIPE) $(LIBQPRT) $(LDLIBS_ALL)

unit-tests: $(UNIT_BINS)

# make check: every test, one summary line "N passed, N failed, N skipped".
check: all unit-tests
	@QPIPE_BIN=$(CURDIR)/$(BIN) QPIPE_UNIT_DIR=$(CURDIR)/$(BUILD)/tests tests/run-all

# The sanitizer build lives in its own tree so it never mixes with the
# normal objects; tests then run against its binaries.
ASAN_MAKE = $(MAKE) --no-print-directory BUILD=build-asan BIN=build-asan/bin \
	SAN='-fsanitize=address,undefined -fno-omit-frame-pointer' EXTRA_CFLAGS=-DQP_ASAN
asan:
	@$(ASAN_MAKE) all unit-tests
	@QPIPE_BIN=$(CURDIR)/build-asan/bin QPIPE_UNIT_DIR=$(CURDIR)/build-asan/tests \
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 tests/run-all

deps:
	@tools/deps.sh

# make fuzz: a short mutation-fuzzing campaign per reader on the sanitizer
# build (tests/fuzz/README.md).  Not part of check: it is random (repeat it
# with FUZZ_SEED), slow, and needs python3-onnx and python3-h5py.
FUZZ_RUNS ?= 200
FUZZ_SEED ?= 1
fuzz:
	@$(ASAN_MAKE) all
	@tests/fuzz/campaign $(CURDIR)/build-asan/bin $(FUZZ_RUNS) $(FUZZ_SEED)

example: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory -C examples/fashion-mnist QPIPE_BIN=$(CURDIR)/bin

# Benchmarks live in module.mk files (bench: bench-<name>).
bench: all

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(PROGS) $(DESTDIR)$(PREFIX)/bin
	install -d $(DESTDIR)$(TPCDIR)
	install -m 644 tpc/*.json $(DESTDIR)$(TPCDIR)

# `quantize --tpc NAME` looks in $(TPCDIR) (docs/tpc.md section 1.1), so the
# path is compiled in; the stamp recompiles quantize when PREFIX changes, so
# `make install PREFIX=...` never installs a binary that looks elsewhere.
TPCDIR = $(PREFIX)/share/qpipe/tpc
$(BUILD)/stages/quantize/main.o: CFLAGS_OURS += -DQP_TPC_DIR='"$(TPCDIR)"'
$(BUILD)/stages/quantize/main.o: $(BUILD)/tpcdir.stamp
$(BUILD)/tpcdir.stamp: FORCE
	$(Q)mkdir -p $(@D) && echo '$(TPCDIR)' | cmp -s - $@ || echo '$(TPCDIR)' > $@
.PHONY: FORCE
FORCE:

clean:
	rm -rf $(BUILD) build-asan $(BIN)

-include $(ALL_OBJS:.o=.d)
