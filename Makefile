# midge — top-level Makefile.
#
# Host builds and tests use plain `swift build` / `swift test`. Board builds cross-compile one
# static Embedded Swift executable per board profile (boards/<name>.conf) with the local Swift SDK
# bundle in toolchain/ (see toolchain/README.md); nothing is installed into ~/.swiftpm.

SHELL := /bin/bash
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
SWIFT ?= swift
# Swift 6.3.1 lives in /opt/swift on the project machines; use it when `swift` is not on PATH.
ifeq ($(shell command -v $(SWIFT) 2>/dev/null),)
export PATH := /opt/swift/usr/bin:$(PATH)
endif
PYTHON ?= python3

.DEFAULT_GOAL := help

# --- host targets ---
#   make run [ARGS="-c midge.conf"]  install what is missing, build this machine's board, start
#                                    midge (no ARGS: listens on 127.0.0.1:1883 only)
#   make test                        install what is missing, run every test (what CI runs)
#   make deps                        install what is missing (apt, pip) and nothing else
#   make unit                        host unit tests only (swift test)
#   make integration BOARD=<name>    integration tests against dist/<name>/midge (qemu on ARM),
#                                    with MIDGE_ALLOC_TRAP=1: any allocation after startup traps
#   make fuzz [FUZZ_SECONDS=60]      libFuzzer over the codec, seeded from the vector table
#   make bench-wire                  PUBLISH decode+encode micro-benchmark (ns per packet)
#   make bench | bench-quick         midge vs Mosquitto side by side (bench/run.py, BENCHMARKS.md)
#   make bench-qemu                  quick run with the aarch64 midge under qemu (relative figures only)

# The board `make run` builds: this machine's architecture.
HOST_ARCH  := $(shell uname -m)
HOST_BOARD := $(if $(filter aarch64 arm64,$(HOST_ARCH)),raspberry-pi-4,$(if $(filter armv7l armv7,$(HOST_ARCH)),turris-omnia,x86_64-generic))
ARGS ?=

.PHONY: run test deps mbedtls unit integration integration-all fuzz bench-wire bench bench-quick bench-qemu

FUZZ_SECONDS ?= 60
FUZZ_DIR     := $(ROOT)/.build-fuzz
WIRE_SOURCES := $(wildcard $(ROOT)/Sources/MQTTWire/*.swift)

deps:
	@bash $(ROOT)/toolchain/install-deps.sh
	@$(MAKE) --no-print-directory mbedtls

# Debian's mbedTLS source package into third_party/mbedtls (gitignored; nothing when present).
# SwiftPM compiles it (target CMbedTLS) per build directory, so each board caches its own objects.
mbedtls:
	@sh $(ROOT)/toolchain/fetch-mbedtls.sh >/dev/null

run: deps
	@$(MAKE) --no-print-directory board BOARD=$(HOST_BOARD)
	$(DIST)/$(HOST_BOARD)/midge $(ARGS)

unit: mbedtls
	$(SWIFT) test --package-path $(ROOT)

integration: board
	@sdk=$$(awk '$$1 == "sdk" { print $$2; exit }' $(ROOT)/boards/$(BOARD).conf); \
	prefix=$$(case "$$sdk" in x86_64-*) [ "$(HOST_ARCH)" = x86_64 ] || echo qemu-x86_64-static;; \
	  aarch64-*) [ "$(HOST_ARCH)" = aarch64 ] || echo qemu-aarch64-static;; \
	  armv7-*) case "$(HOST_ARCH)" in armv7*) ;; *) echo qemu-arm-static;; esac;; esac); \
	scale=1; [ -n "$$prefix" ] && scale=3; \
	echo "== integration: $(BOARD) ($$sdk$${prefix:+ under $$prefix})"; \
	MIDGE_BIN=$(DIST)/$(BOARD)/midge MIDGE_EXEC_PREFIX=$$prefix MIDGE_TIME_SCALE=$$scale MIDGE_ALLOC_TRAP=1 \
	  $(PYTHON) -m pytest -q -p no:cacheprovider $(or $(TESTS),$(ROOT)/Tests/integration)

# Boards that share an sdk flavour (same architecture, libc and ISA) differ only in -mcpu and the
# compiled-in defaults. The first board of each flavour runs the whole suite; each later one
# builds and runs SMOKE_TESTS: round trip, CLI and board defaults, no allocation, QoS, MQTT 5, TLS.
# `make integration BOARD=<name>` still runs everything on any board.
SMOKE_TESTS := $(addprefix $(ROOT)/Tests/integration/,test_01_roundtrip.py test_10_cli.py \
  test_12_no_allocation.py test_15_qos.py test_19_mqtt5.py test_25_tls.py)
integration-all:
	@seen=; for b in $(BOARDS); do \
	  sdk=$$(awk '$$1 == "sdk" { print $$2; exit }' $(ROOT)/boards/$$b.conf); \
	  case " $$seen " in *" $$sdk "*) tests="$(SMOKE_TESTS)"; echo "== $$b: smoke tests ($$sdk ran in full)";; \
	    *) tests=; seen="$$seen $$sdk";; esac; \
	  $(MAKE) --no-print-directory integration BOARD=$$b TESTS="$$tests" || exit 1; done

# The fuzzer and the benchmark compile the codec's sources with the harness into one module.
$(FUZZ_DIR)/wire-fuzz: $(WIRE_SOURCES) $(ROOT)/Fuzz/WireFuzz.swift
	@mkdir -p $(FUZZ_DIR)
	$(SWIFT)c -sanitize=fuzzer,address -parse-as-library -O -use-ld=lld -module-name WireFuzz \
	  $(WIRE_SOURCES) $(ROOT)/Fuzz/WireFuzz.swift -o $@

# Seeds: every vector of Tests/MQTTWireTests (written by the fuzzCorpus test). A crash stops
# the run with exit 1 and leaves the input in $(FUZZ_DIR)/crash-*; keep it as a vector.
fuzz: $(FUZZ_DIR)/wire-fuzz
	@mkdir -p $(FUZZ_DIR)/corpus
	@MIDGE_FUZZ_CORPUS=$(FUZZ_DIR)/seeds $(SWIFT) test --package-path $(ROOT) --filter fuzzCorpus >/dev/null
	@echo "== fuzz: codec, $(FUZZ_SECONDS) s"
	@$(FUZZ_DIR)/wire-fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
	  -artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus $(FUZZ_DIR)/seeds > $(FUZZ_DIR)/fuzz.log 2>&1; \
	  rc=$$?; grep -E "^(Done|stat::number_of_executed_units|stat::new_units_added)|ERROR|SUMMARY|Test unit written" \
	  $(FUZZ_DIR)/fuzz.log; [ $$rc -eq 0 ] || echo "fuzz: FAILED (exit $$rc), log: $(FUZZ_DIR)/fuzz.log"; exit $$rc

bench-wire:
	@mkdir -p $(FUZZ_DIR)
	$(SWIFT)c -O -wmo -module-name WireBench $(WIRE_SOURCES) $(ROOT)/bench/wire/main.swift -lm \
	  -o $(FUZZ_DIR)/wire-bench
	@$(FUZZ_DIR)/wire-bench

bench: board-x86
	$(PYTHON) $(ROOT)/bench/run.py

bench-quick: board-x86
	$(PYTHON) $(ROOT)/bench/run.py --quick

bench-qemu:
	@$(MAKE) --no-print-directory board BOARD=raspberry-pi-4
	$(PYTHON) $(ROOT)/bench/run.py --quick --rounds 1 --midge $(DIST)/raspberry-pi-4/midge --qemu qemu-aarch64-static

board-x86:
	@$(MAKE) --no-print-directory board BOARD=x86_64-generic

test: deps
	@$(MAKE) --no-print-directory sdk-check
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory fuzz
	@$(MAKE) --no-print-directory integration-all


# --- board builds (toolchain) ---
#   make board BOARD=<name>   build and strip dist/<name>/midge for one profile
#   make boards               every boards/*.conf
#   make board-list           name, sdk flavour and cpu of every profile
#   make sdk                  regenerate toolchain/embedded-linux.artifactbundle
#   make sdk-check            fail if the committed bundle differs from what gen-sdk.py writes
#   make board-clean          remove .build-<board>/ scratch paths and dist/
# PKG=<dir> builds another package with the same shape (product $(PRODUCT)), e.g. a probe.

PKG       ?= $(ROOT)
PRODUCT   ?= midge
SDKS_PATH := $(ROOT)/toolchain
BUNDLE    := $(SDKS_PATH)/embedded-linux.artifactbundle
DIST      ?= $(ROOT)/dist
BOARDS    := $(sort $(basename $(notdir $(wildcard $(ROOT)/boards/*.conf))))
# llvm-objcopy ships next to swift.
OBJCOPY   ?= $(dir $(realpath $(shell command -v $(SWIFT))))llvm-objcopy

HASH := \#
# $(call conf,<key>): first value of `<key> value  # comment` in the board profile.
conf = $(shell awk '$$1 == "$(1)" { sub(/[ \t]*$(HASH).*/, ""); print $$2; exit }' $(CONF) 2>/dev/null)

ifneq ($(BOARD),)
CONF    := $(ROOT)/boards/$(BOARD).conf
SDK     := $(call conf,sdk)
CPU     := $(call conf,cpu)
SCRATCH ?= $(abspath $(PKG))/.build-$(BOARD)
# "default <key> <value>" lines, prefix stripped, joined with a literal backslash-n (a C escape).
DEFAULTS := $(shell awk 'sub(/^[ \t]*default[ \t]+/, "") { sub(/[ \t]*$(HASH).*/, ""); \
              gsub(/[ \t]+/, " "); out = out sep $$0; sep = "\\n" } END { print out }' $(CONF) 2>/dev/null)
# clang has no -mcpu for x86; -march names the same CPU there.
CPU_CFLAG = $(if $(filter x86_64-%,$(SDK)),-march,-mcpu)=$(CPU)
# Full LTO: Swift and C (mbedTLS included) are optimised as one module at link time, so code
# that no path reaches goes and single-use functions fold into their caller: -49 KB on aarch64.
# lld warns once per C file that its triple (linux-musl) differs from the link's (linux-gnu, which
# finds libgcc); the two name the same ABI.
BOARD_SWIFT_FLAGS = -c release --product $(PRODUCT) --package-path $(PKG) --scratch-path $(SCRATCH) \
  --experimental-lto-mode=full \
  --swift-sdks-path $(SDKS_PATH) --swift-sdk $(SDK) \
  -Xswiftc -target-cpu -Xswiftc $(CPU) -Xcc $(CPU_CFLAG) \
  -Xcc '-DMIDGE_BOARD_NAME="$(BOARD)"' -Xcc '-DMIDGE_BOARD_DEFAULTS="$(DEFAULTS)"'
endif

.PHONY: help board boards board-list board-check sdk sdk-check board-clean

help:
	@echo "targets: board BOARD=<name> | boards | board-list | sdk | sdk-check | board-clean"
	@echo "boards:  $(BOARDS)"

# Validates the profile: known keys, a flavour that exists, C-string-safe default values.
board-check:
	@test -n "$(BOARD)" || { echo "make board: set BOARD=<name>; boards: $(BOARDS)"; exit 2; }
	@test -f "$(CONF)" || { echo "make board: no profile boards/$(BOARD).conf; boards: $(BOARDS)"; exit 2; }
	@awk -v board="$(BOARD)" -v f="boards/$(BOARD).conf" ' \
	  { sub(/[ \t]*#.*/, "") } NF == 0 { next } \
	  function bad(msg) { printf "%s:%s %s\n", f, NR ? NR ":" : "", msg; err = 1 } \
	  $$1 == "board" && $$2 != board { bad("board \"" $$2 "\" does not match the file name") } \
	  $$1 == "default" && NF != 3 { bad("expected: default <key> <value>") } \
	  $$1 == "default" && $$0 ~ /["\047\\$$`]/ { bad("quotes, backslashes, $$ and ` are not allowed in defaults") } \
	  $$1 !~ /^(board|sdk|cpu|install|default)$$/ { bad("unknown key \"" $$1 "\"") } \
	  $$1 == "board" || $$1 == "sdk" || $$1 == "cpu" { seen[$$1] = 1 } \
	  END { NR = 0; if (!seen["sdk"]) bad("missing \"sdk <flavour>\" line"); \
	        if (!seen["cpu"]) bad("missing \"cpu <name>\" line"); exit err }' "$(CONF)"
	@echo "$(BOARD)" | grep -Eq '^[a-z0-9][a-z0-9._-]*$$' || { echo "make board: bad board name '$(BOARD)'"; exit 2; }
	@test -f "$(BUNDLE)/$(SDK)/swift-sdk.json" || { echo "boards/$(BOARD).conf: sdk '$(SDK)' is not a flavour in $(BUNDLE) (run 'make sdk'?)"; exit 2; }

board: board-check mbedtls
	$(info == $(BOARD): sdk $(SDK), cpu $(CPU))
	$(info $(SWIFT) build $(BOARD_SWIFT_FLAGS))
	@start=$$(date +%s); \
	  $(SWIFT) build $(BOARD_SWIFT_FLAGS) || exit 1; \
	  mkdir -p "$(DIST)/$(BOARD)" && \
	  "$(OBJCOPY)" --strip-all "$(SCRATCH)/release/$(PRODUCT)" "$(DIST)/$(BOARD)/$(PRODUCT)" || exit 1; \
	  echo "== $(BOARD): $(DIST)/$(BOARD)/$(PRODUCT) $$(wc -c < "$(DIST)/$(BOARD)/$(PRODUCT)") bytes (stripped), $$(( $$(date +%s) - start )) s"

boards:
	@for b in $(BOARDS); do $(MAKE) --no-print-directory board BOARD=$$b || exit 1; done

board-list:
	@printf '%-20s %-14s %s\n' BOARD SDK CPU
	@for f in $(ROOT)/boards/*.conf; do \
	  awk '{ sub(/[ \t]*#.*/, "") } $$1 ~ /^(board|sdk|cpu)$$/ { v[$$1] = $$2 } \
	       END { printf "%-20s %-14s %s\n", v["board"], v["sdk"], v["cpu"] }' "$$f"; done

sdk:
	$(PYTHON) $(SDKS_PATH)/gen-sdk.py

sdk-check:
	@tmp=$$(mktemp -d) && $(PYTHON) $(SDKS_PATH)/gen-sdk.py "$$tmp/$(notdir $(BUNDLE))" >/dev/null && \
	  if diff -r "$$tmp/$(notdir $(BUNDLE))" "$(BUNDLE)"; then echo "sdk-check: bundle is up to date"; rm -rf "$$tmp"; \
	  else echo "sdk-check: bundle differs from gen-sdk.py output; run 'make sdk'"; rm -rf "$$tmp"; exit 1; fi

board-clean:
	rm -rf $(abspath $(PKG))/.build-* $(DIST)
