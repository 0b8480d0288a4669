# libautograd - one plain Makefile.
#
#   make          build the libraries and the examples (installing missing Debian packages)
#   make run      ... then run the seed's training loop (examples/seed_loop.c)
#   make test     ... then build and run the whole Criterion suite
#
# Sources are found by wildcard: a new op is a new file in ops/, with no edit here.

CC ?= cc
PREFIX ?= /usr/local
BUILD ?= build
OPT ?= -O3 -g
# -O3: the vectoriser runs with its full cost model (at -O2 it leaves most elementwise loops
# scalar). -ffp-contract=off: never fuse a*b+c into one FMA, so results match PyTorch's two
# roundings. -fno-math-errno: sqrt() and friends need not set errno (nothing here reads it after
# them), which lets loops with sqrtf vectorise; the values are the same.
WARN = -Wall -Wextra -Wpedantic $(if $(WERROR),-Werror)
CFLAGS_ALL = -std=c11 $(OPT) $(WARN) -ffp-contract=off -fno-math-errno -fPIC -I. -MMD -MP $(SAN) $(CFLAGS)
# Expanded when a recipe runs, i.e. after `deps` has installed the packages.
PKG_CFLAGS = $(shell pkg-config --cflags openblas libxxhash zlib)
PKG_LIBS = $(shell pkg-config --libs openblas libxxhash zlib) -lm -pthread
TEST_CFLAGS = $(shell pkg-config --cflags criterion)
TEST_LIBS = $(shell pkg-config --libs criterion)
DEBIAN_PACKAGES = libcriterion-dev libxxhash-dev libopenblas-dev zlib1g-dev pkg-config

LIB_SRC = $(wildcard autograd/*.c ops/*.c optim/*.c nn/*.c)
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
EXAMPLES = $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
BENCHES = $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
TEST_SRC = $(wildcard tests/*.c)
TEST_OBJ = $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
HEADERS = autograd/autograd.h autograd/data.h autograd/random.h autograd/safetensors.h \
  autograd/checkpoint.h ops/ops.h ops/matmul.h optim/optim.h ops/nn_ops.h nn/nn.h

.PHONY: all deps lib examples benches bench run test check-examples test-asan test-valgrind install clean format FORCE

all: lib examples ## the libraries and the examples

deps: ## install the Debian packages the build needs, if any is missing
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; fi

lib: $(BUILD)/libautograd.a $(BUILD)/libautograd.so ## static and shared libraries

examples: $(EXAMPLES) ## every examples/NAME.c as build/examples/NAME

run: all ## build, then run the seed's first training loop in C
	./$(BUILD)/examples/seed_loop

test: all $(BUILD)/tests/suite check-examples ## build, run the examples' checks and the suite
	./$(BUILD)/tests/suite $(TEST_ARGS)

# tests/expected/NAME.txt is what build/examples/NAME prints; NAME@ARG.txt, with argument ARG.
check-examples: examples ## each example with an expected output prints exactly that
	@for f in tests/expected/*.txt; do b=$$(basename $$f .txt); n=$${b%%@*}; \
	  a=$$(echo "$$b" | sed -n 's/^[^@]*@//p'); \
	  ./$(BUILD)/examples/$$n $$a | diff -u $$f - >/dev/null || { \
	    echo "check-examples: $$n $$a differs from $$f:"; \
	    ./$(BUILD)/examples/$$n $$a | diff -u $$f -; exit 1; }; \
	  echo "check-examples: $$n $$a prints $$f exactly"; done

# Criterion runs each test in a child process and ignores how the child exits after its test
# passed, so a leak reported at exit would pass unseen: the sanitizers and valgrind write to log
# files instead, and any log with an error fails the run.
SAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
test-asan: ## the suite built and run under AddressSanitizer (+ leaks) and UBSan
	$(MAKE) BUILD=build-asan OPT="-O1 -g" SAN="$(SAN_FLAGS)" all build-asan/tests/suite
	rm -f build-asan/sanitizer.*
	ASAN_OPTIONS=detect_leaks=1:log_path=$(CURDIR)/build-asan/sanitizer \
	UBSAN_OPTIONS=print_stacktrace=1:log_path=$(CURDIR)/build-asan/sanitizer \
	  ./build-asan/tests/suite $(TEST_ARGS)
	@if ls build-asan/sanitizer.* >/dev/null 2>&1; then cat build-asan/sanitizer.*; \
	  echo "test-asan: the sanitizers reported the errors above"; exit 1; fi

test-valgrind: all $(BUILD)/tests/suite ## the suite under valgrind, failing on any error or leak
	rm -rf $(BUILD)/valgrind && mkdir -p $(BUILD)/valgrind
	valgrind -q --trace-children=yes --trace-children-skip='*python*' --leak-check=full \
	  --show-leak-kinds=definite,indirect \
	  --errors-for-leak-kinds=definite,indirect --log-file=$(BUILD)/valgrind/%p.log \
	  ./$(BUILD)/tests/suite -j1 $(TEST_ARGS)
	@if grep -l . $(BUILD)/valgrind/*.log >/dev/null 2>&1; then cat $(BUILD)/valgrind/*.log; \
	  echo "test-valgrind: valgrind reported the errors above"; exit 1; fi

# The compiler and flags every object was built with: when they change (OPT=..., CC=...), the
# objects are rebuilt.
$(BUILD)/flags: FORCE
	@mkdir -p $(@D)
	@echo '$(CC) $(CFLAGS_ALL)' | cmp -s - $@ || echo '$(CC) $(CFLAGS_ALL)' > $@
FORCE:

$(BUILD)/obj/%.o: %.c $(BUILD)/flags | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/obj/tests/%.o: tests/%.c $(BUILD)/flags | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(PKG_CFLAGS) $(TEST_CFLAGS) -c $< -o $@

$(BUILD)/libautograd.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libautograd.so: $(LIB_OBJ)
	$(CC) $(SAN) -shared -o $@ $^ $(PKG_LIBS)

$(BUILD)/examples/%: $(BUILD)/obj/examples/%.o $(BUILD)/libautograd.a
	@mkdir -p $(@D)
	$(CC) $(SAN) -o $@ $< $(BUILD)/libautograd.a $(PKG_LIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BUILD)/libautograd.a
	@mkdir -p $(@D)
	$(CC) $(SAN) -o $@ $< $(BUILD)/libautograd.a $(PKG_LIBS)

benches: $(BENCHES) ## every bench/NAME.c as build/bench/NAME

bench: benches ## run each workload here and in PyTorch; write bench/RESULTS.md
	BUILD=$(BUILD) bash bench/run.sh

$(BUILD)/tests/suite: $(TEST_OBJ) $(BUILD)/libautograd.a
	@mkdir -p $(@D)
	$(CC) $(SAN) -o $@ $(TEST_OBJ) $(BUILD)/libautograd.a $(TEST_LIBS) $(PKG_LIBS)

install: lib ## headers, libraries and libautograd.pc under PREFIX
	install -d $(DESTDIR)$(PREFIX)/include/libautograd/autograd \
	  $(DESTDIR)$(PREFIX)/include/libautograd/ops $(DESTDIR)$(PREFIX)/include/libautograd/optim \
	  $(DESTDIR)$(PREFIX)/include/libautograd/nn \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig
	for h in $(HEADERS); do install -m 644 $$h $(DESTDIR)$(PREFIX)/include/libautograd/$$h; done
	install -m 644 $(BUILD)/libautograd.a $(BUILD)/libautograd.so $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|' libautograd.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/libautograd.pc

# libFuzzer on the safetensors loader (fuzz/fuzz_safetensors.c), with the library's sources
# compiled by clang with the same sanitizers. Debian's clang and libclang-rt-14-dev (the fuzzer
# runtime) are installed if missing. New inputs it finds go to $(BUILD)/fuzz/corpus; the seeds
# are fuzz/corpus/. A crash leaves crash-* in the current directory and fails the target.
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_FLAGS = -std=c11 -O1 -g -ffp-contract=off -I. -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
.PHONY: fuzz
fuzz: deps ## fuzz the safetensors loader for FUZZ_SECONDS (default 60): libFuzzer, ASan, UBSan
	@echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n; }' \
	  | $(FUZZ_CC) -x c -fsanitize=fuzzer - -o /dev/null 2>/dev/null || { \
	  echo "installing: clang libclang-rt-14-dev"; sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq clang libclang-rt-14-dev >/dev/null; }
	@mkdir -p $(BUILD)/fuzz/corpus
	$(FUZZ_CC) $(FUZZ_FLAGS) $(PKG_CFLAGS) fuzz/fuzz_safetensors.c $(LIB_SRC) \
	  -o $(BUILD)/fuzz/fuzz_safetensors $(PKG_LIBS)
	./$(BUILD)/fuzz/fuzz_safetensors -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	  -dict=fuzz/safetensors.dict $(BUILD)/fuzz/corpus fuzz/corpus

format: ## reformat every C file with clang-format
	clang-format -i $(LIB_SRC) $(HEADERS) $(wildcard */internal.h ops/*.h) $(TEST_SRC) examples/*.c

clean: ## remove the build trees
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
