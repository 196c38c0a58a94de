# Thin wrapper over CMake. Every target installs what is missing first.
# make test builds Release, as make bench does: -O3 warnings (errors here) show in CI.
BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release

.PHONY: all deps build test tsan demo bench bench-build soak docs deb fuzz fuzz-build clean

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory

# The whole suite, then the milter's tests once more under AddressSanitizer
# and UBSan (a separate Debug build in $(BUILD)-asan): memory errors and leaks
# in the daemon fail the run; so do the DMARC report reader's, whose bombs and
# large reports are bigger than the fuzz inputs, and the replay check's (its
# analysis over vectors; the scenario with both daemons, the CLI and
# Chromium). Last, every libFuzzer target for
# FUZZ_TEST_SECONDS under ASan+UBSan, two at a time (tests/fuzz/run): a
# crash, leak, timeout or sanitizer report fails the run.
ASAN_TESTS = MtaConnection|MilterServer|Retirer|Session|Config|Option|Router|Cidr|Key|BadKeySet|Manifest|Window|DnsCheck|HeaderText|Golden|Opendkim|Doctor|Dmarc|dmarc_import|milter_protocol|sendmail|postfix|tcp_socket|bad_input|keyset_reload|limits_and_privilege|Ledger|Metrics|TestClock|metrics_scraped|ledger_survives|test_clock|Replay|replay_check|SignerProtocol|SignerService

# Not under ASan: KeyMemory.* read the whole address space (ASan's shadow is
# terabytes of it), and the Pkcs11 tests load SoftHSM2, whose own allocations
# LeakSanitizer would judge; both run in the Release pass.
ASAN_EXCLUDE = KeyMemory|Pkcs11

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DSIGNET_SANITIZE=ON -DSIGNET_BENCH=OFF >/dev/null
	@cmake --build $(BUILD)-asan -j $(JOBS)
	@cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 ctest --output-on-failure -j $(JOBS) -R '$(ASAN_TESTS)' -E '$(ASAN_EXCLUDE)'
	@$(MAKE) --no-print-directory tsan
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_TEST_SECONDS) FUZZ_JOBS=2
	@scripts/check-key-leaks $(BUILD) $(BUILD)-asan $(BUILD)-tsan

# ThreadSanitizer over the daemon under concurrent load with reloads
# (libmilter's threads, the snapshot swap, the DNS watch, the idle reaper):
# the Session unit tests, the key-set reload under load, limits and
# privilege, and the lock-free ledger counters and metrics (adders across
# days racing the drain, the writer's thread). A report fails the run;
# nothing is suppressed (tests/tsan/suppressions.txt says why). The milter
# server and its conversations (MtaConnection, MilterServer) are signet's own threads.
TSAN_TESTS = MtaConnection|MilterServer|Retirer|Session|Golden|KeySnapshot|KeyWindows|Ledger|Metrics|keyset_reload|limits_and_privilege|SignerService
tsan: deps
	@cmake -S . -B $(BUILD)-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIGNET_TSAN=ON -DSIGNET_BENCH=OFF >/dev/null
	@cmake --build $(BUILD)-tsan -j $(JOBS) --target unit_tests signet-milter signet milter_load
	@cd $(BUILD)-tsan && TSAN_OPTIONS="halt_on_error=1 exitcode=66 suppressions=$(CURDIR)/tests/tsan/suppressions.txt" \
	  ctest --output-on-failure -j $(JOBS) -R '$(TSAN_TESTS)'
	@if grep -l "WARNING: ThreadSanitizer" $$(find $(BUILD)-tsan/tests -name '*.log') 2>/dev/null; then \
	  echo "make tsan: ThreadSanitizer reports in the files above" >&2; exit 1; fi

# The libFuzzer targets (tests/fuzz/), one per parser, in a clang build of
# their own ($(BUILD)-fuzz: libraries and targets under ASan+UBSan), each run
# for FUZZ_SECONDS, FUZZ_JOBS at a time. Seeds are read from
# tests/fuzz/corpus/ and never written; what the fuzzer finds stays in
# $(BUILD)-fuzz/fuzz/corpus/ for the next run.
FUZZ_BUILD ?= $(BUILD)-fuzz
FUZZ_SECONDS ?= 300
FUZZ_TEST_SECONDS ?= 60
FUZZ_JOBS ?= 2
FUZZ_CMAKE = cmake -S . -B $(FUZZ_BUILD) -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DSIGNET_FUZZ=ON -DSIGNET_BENCH=OFF

fuzz-build: deps
	@$(FUZZ_CMAKE) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets -- --no-print-directory

fuzz: fuzz-build
	@tests/fuzz/run $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_JOBS)

demo: build
	@scripts/demo $(BUILD)

# make bench: every benchmark, about 15 minutes, bench/RESULTS.md at the end
# (docs/PERFORMANCE.md says how each figure is measured). BENCH_QUICK=1 runs
# each in its quick mode (bench/RESULTS-quick.md; for development, not for
# figures). The 30-minute soak is `make soak` (SOAK_MINUTES); make bench runs
# it for BENCH_SOAK_MINUTES (1).
SOAK_MINUTES ?= 30
BENCH_QUICK ?=
BENCH_FLAG := $(if $(BENCH_QUICK),--quick,)
BENCH_SUFFIX := $(if $(BENCH_QUICK),-quick,)
BENCH_SOAK_MINUTES ?= 1
BENCH_TARGETS := signet_bench pkcs11_bench limits milter_bench route_bench config_load_bench signet signet-milter milter_load
bench-build: deps
	@cmake -S . -B $(BUILD)-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD)-bench -j $(JOBS) --target $(BENCH_TARGETS)

bench: bench-build
	@mkdir -p bench/results
	@$(BUILD)-bench/bench/signet_bench --benchmark_min_time=$(if $(BENCH_QUICK),0.05,0.5) \
	  --benchmark_out=bench/results/signet_bench$(BENCH_SUFFIX).json --benchmark_out_format=json
	@$(BUILD)-bench/bench/pkcs11_bench --benchmark_min_time=$(if $(BENCH_QUICK),0.05,0.5) \
	  --benchmark_out=bench/results/pkcs11$(BENCH_SUFFIX).json --benchmark_out_format=json
	@/usr/bin/python3 bench/milter_protocol.py $(BUILD)-bench $(BENCH_FLAG)
	@/usr/bin/python3 bench/pipeline.py $(BUILD)-bench $(BENCH_FLAG)
	@/usr/bin/python3 bench/keyset_scale.py $(BUILD)-bench $(BENCH_FLAG)
	@/usr/bin/python3 bench/memory.py $(BUILD)-bench $(BENCH_FLAG)
	@/usr/bin/python3 bench/privsep_cost.py $(BUILD)-bench $(BENCH_FLAG)
	@$(BUILD)-bench/bench/config_load_bench $(if $(BENCH_QUICK),20000,20000 100000) | tee bench/results/config_load$(BENCH_SUFFIX).txt
	@/usr/bin/python3 bench/soak.py $(BUILD)-bench --minutes $(BENCH_SOAK_MINUTES) | tee bench/results/soak$(BENCH_SUFFIX).txt
	@/usr/bin/python3 bench/results.py $(BENCH_FLAG)

soak: bench-build
	@/usr/bin/python3 bench/soak.py $(BUILD)-bench --minutes $(SOAK_MINUTES)

# signet.conf(5) and docs/configuration.md's option tables, from conf/options.h.
docs: build
	@/usr/bin/python3 tests/integration/test_docs.py --build $(BUILD) --top . --regenerate

# The Debian package (debhelper through dpkg-buildpackage), then lintian.
deb: deps
	@scripts/make-deb $(BUILD)-deb

clean:
	rm -rf $(BUILD) $(BUILD)-bench $(BUILD)-asan $(BUILD)-tsan $(BUILD)-deb $(BUILD)-fuzz
