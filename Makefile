# cplane — one static musl binary.  See README.md.
#
#   make            build/cplane (static, musl, stripped)
#   make test       every suite: unit (ASan+UBSan), fuzz corpus replay, e2e; one summary line
#   make demo       kubesim + worker + driver: the reference's scenario
#   make bench      every benchmark; make bench-NAME for one
#   make fuzz       run each fuzzer for FUZZ_SECONDS (default 60)
#   make size       stripped binary size

.SUFFIXES:
.DELETE_ON_ERROR:
.PHONY: all test unit fuzz fuzz-replay e2e demo bench size clean setup oci image

B := build
# V=1 shows full command lines.
Q := $(if $(V),,@)
say = $(if $(V),,@printf '  %-6s %s\n' $(1) $(2);)
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

WARN := -Wall -Wextra -Wpedantic -Werror -Wshadow -Wformat=2 -Wmissing-prototypes \
	-Wstrict-prototypes -Wvla -Wpointer-arith -Wcast-align -Wundef
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -Isrc -I$(B)/gen \
	-DCPLANE_VERSION='"$(VERSION)"' -DCPLANE_COMMIT='"$(COMMIT)"'

SRCS := $(sort $(shell find src -name '*.c' ! -name main.c))
PROTOS := proto/cplane/v1/cplane.proto proto/grpc/health/v1/health.proto \
	proto/grpc/reflection/v1/reflection.proto
PROTOS := $(wildcard $(PROTOS))
# Served by reflection: every served .proto (v1alpha is wire-identical to v1: no C for it).
DESC_PROTOS := $(PROTOS) proto/grpc/reflection/v1alpha/reflection.proto
GEN_H := $(patsubst proto/%.proto,$(B)/gen/%.pb-c.h,$(PROTOS))
GEN_C := $(GEN_H:.h=.c) $(B)/gen/descriptor_set.c

SETUP_STAMP := $(B)/.setup-stamp
DEPS_STAMP := $(B)/deps/.stamp

all: $(B)/cplane

$(SETUP_STAMP): scripts/setup.sh
	@mkdir -p $(B)
	sh scripts/setup.sh
	@touch $@

setup: $(SETUP_STAMP)

$(DEPS_STAMP): scripts/build-deps.sh | $(SETUP_STAMP)
	sh scripts/build-deps.sh $(B)/deps

# protoc-c output goes to build/gen (never committed).
$(B)/gen/%.pb-c.c $(B)/gen/%.pb-c.h: proto/%.proto | $(SETUP_STAMP)
	@mkdir -p $(B)/gen
	$(call say,PROTOC,$<)protoc-c --proto_path=proto --c_out=$(B)/gen $<

# The FileDescriptorSet reflection answers from, as a C array (src/worker/descriptor_set.h).
$(B)/gen/descriptor_set.c: $(DESC_PROTOS) scripts/embed.sh | $(SETUP_STAMP)
	@mkdir -p $(B)/gen
	$(call say,PROTOC,$(B)/gen/descriptor_set.pb)protoc --proto_path=proto --include_imports \
		--descriptor_set_out=$(B)/gen/descriptor_set.pb $(DESC_PROTOS)
	$(Q)sh scripts/embed.sh $(B)/gen/descriptor_set.pb cplane_descriptor_set > $@

# ---- release: musl-gcc, static, stripped --------------------------------------
REL_CC := musl-gcc
REL_CFLAGS := $(BASE_CFLAGS) -Os -ffunction-sections -fdata-sections -isystem $(B)/deps/include \
	-fno-asynchronous-unwind-tables -fstack-protector-strong -DNDEBUG
REL_LDFLAGS := -static -s -Wl,--gc-sections -L$(B)/deps/lib
REL_LIBS := -lbearssl -lprotobuf-c -lpthread
REL_OBJS := $(patsubst %.c,$(B)/rel/%.o,$(SRCS) $(GEN_C))

$(B)/rel/%.o: %.c $(GEN_H) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(REL_CC) $(REL_CFLAGS) -MMD -MP -c $< -o $@

$(B)/rel/$(B)/gen/%.o: $(B)/gen/%.c $(GEN_H) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(REL_CC) $(REL_CFLAGS) -MMD -MP -c $< -o $@

$(B)/cplane: $(B)/rel/src/main.o $(REL_OBJS)
	$(call say,LD,$@)$(REL_CC) $(REL_LDFLAGS) -o $@ $^ $(REL_LIBS)

size: $(B)/cplane
	@echo "size_bytes=$$(stat -c %s $(B)/cplane)"
	@size $(B)/cplane

# ---- unit tests: system cc, ASan + UBSan, Debian -dev libraries --------------
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
TEST_CC ?= cc
# Test vectors include JSON longer than the 4095 characters ISO C promises for a literal.
TEST_CFLAGS := $(BASE_CFLAGS) -Wno-overlength-strings -O1 -g $(SAN) -Itests/unit
TEST_LIBS := -lbearssl -lprotobuf-c -lm -lpthread
TEST_OBJS := $(patsubst %.c,$(B)/test/obj/%.o,$(SRCS) $(GEN_C))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/test/%,$(UNIT_SRCS))

$(B)/test/obj/%.o: %.c $(GEN_H) | $(SETUP_STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(TEST_CC) $(TEST_CFLAGS) -MMD -MP -c $< -o $@

$(B)/test/libcplane.a: $(TEST_OBJS)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(B)/test/test_%: tests/unit/test_%.c tests/unit/harness.h $(B)/test/libcplane.a
	$(call say,LD,$@)$(TEST_CC) $(TEST_CFLAGS) -o $@ $< $(B)/test/libcplane.a $(TEST_LIBS)

unit: $(UNIT_BINS)
	@sh tests/run-unit.sh $(UNIT_BINS) tests/unit/check_calls.sh

# The whole program under ASan+UBSan (glibc): CPLANE_BIN=build/test/cplane runs the e2e suites against it.
$(B)/test/cplane: src/main.c $(B)/test/libcplane.a
	$(call say,LD,$@)$(TEST_CC) $(TEST_CFLAGS) -o $@ $< $(B)/test/libcplane.a $(TEST_LIBS)

# Programs that e2e tests drive: tests/tools/NAME.c → build/tools/NAME (ASan+UBSan).
$(B)/tools/%: tests/tools/%.c $(B)/test/libcplane.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(TEST_CC) $(TEST_CFLAGS) -o $@ $< $(B)/test/libcplane.a $(TEST_LIBS)

# gRPC test programs (tests/grpc_test_*.c): sanitized for e2e, release objects for bench/grpc.
$(B)/test/grpc_test_%: tests/grpc_test_%.c $(B)/test/libcplane.a
	$(TEST_CC) $(TEST_CFLAGS) -o $@ $< $(B)/test/libcplane.a $(TEST_LIBS)

$(B)/bench/grpc_test_%: tests/grpc_test_%.c $(REL_OBJS)
	@mkdir -p $(dir $@)
	$(REL_CC) $(REL_CFLAGS) $(REL_LDFLAGS) -o $@ $< $(REL_OBJS) $(REL_LIBS)

# ---- fuzzers: clang libFuzzer + ASan + UBSan -----------------------------------
FUZZ_CC := clang
FUZZ_CFLAGS := $(BASE_CFLAGS) -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all -DFUZZING
FUZZ_OBJS := $(patsubst %.c,$(B)/fuzz/obj/%.o,$(SRCS) $(GEN_C))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRCS))
FUZZ_SECONDS ?= 60

$(B)/fuzz/obj/%.o: %.c $(GEN_H) | $(SETUP_STAMP)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(B)/fuzz/libcplane.a: $(FUZZ_OBJS)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(B)/fuzz/libcplane.a
	$(call say,LD,$@)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(B)/fuzz/libcplane.a $(TEST_LIBS)

fuzz-replay: $(FUZZ_BINS)
	@sh tests/run-fuzz.sh replay $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@sh tests/run-fuzz.sh fuzz $(FUZZ_SECONDS) $(FUZZ_BINS)

# ---- end to end: pytest against the static binary ------------------------------
PYTHON := /usr/bin/python3

e2e: $(B)/cplane
	@sh tests/run-e2e.sh

# ---- everything, one summary line ----------------------------------------------
test: | $(SETUP_STAMP)
	@sh tests/run-all.sh

demo: $(B)/cplane
	@sh scripts/demo.sh

# ---- container image: FROM scratch, one file (docs/deploy.md) ------------------
IMAGE_NAME ?= cplane
IMAGE_TAG ?= $(VERSION)
IMAGE_SOURCE ?= $(or $(shell git config --get remote.origin.url 2>/dev/null),unknown)

oci: $(B)/cplane | $(SETUP_STAMP)
	IMAGE_NAME='$(IMAGE_NAME)' IMAGE_TAG='$(IMAGE_TAG)' IMAGE_SOURCE='$(IMAGE_SOURCE)' \
		sh scripts/oci.sh $(B)/cplane $(B)

image:
	@sh scripts/image.sh '$(IMAGE_NAME):$(IMAGE_TAG)' '$(VERSION)' '$(COMMIT)' '$(IMAGE_SOURCE)'

# ---- benchmarks: bench/NAME/run prints key=value lines --------------------------
BENCHES := $(patsubst bench/%/run,%,$(wildcard bench/*/run))

bench: $(addprefix bench-,$(BENCHES))

bench-%: $(B)/cplane | $(SETUP_STAMP)
	@echo "== bench $*"
	@sh bench/$*/run

clean:
	rm -rf $(B)/rel $(B)/test $(B)/fuzz $(B)/gen $(B)/cplane $(B)/bench $(B)/tools

-include $(shell find $(B)/rel $(B)/test $(B)/fuzz -name '*.d' 2>/dev/null)
