# Thin wrapper over CMake. Every target installs what is missing first.
# make test builds Release, as make bench does: -O3 warnings (errors here) show in CI.
BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release

.PHONY: all deps build test tsan demo bench docs deb clean

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory

# The whole suite, then the milter's tests once more under AddressSanitizer
# and UBSan (a separate Debug build in $(BUILD)-asan): memory errors and leaks
# in the daemon fail the run.
ASAN_TESTS = Session|Config|Option|Router|Cidr|Key|BadKeySet|Manifest|Window|DnsCheck|HeaderText|Golden|Opendkim|Doctor|milter_protocol|sendmail|postfix|tcp_socket|bad_input|keyset_reload|limits_and_privilege

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DSIGNET_SANITIZE=ON -DSIGNET_BENCH=OFF >/dev/null
	@cmake --build $(BUILD)-asan -j $(JOBS)
	@cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 ctest --output-on-failure -j $(JOBS) -R '$(ASAN_TESTS)'
	@$(MAKE) --no-print-directory tsan
	@scripts/check-key-leaks $(BUILD) $(BUILD)-asan $(BUILD)-tsan

# ThreadSanitizer over the daemon under concurrent load with reloads
# (libmilter's threads, the snapshot swap, the DNS watch, the idle reaper):
# the Session unit tests, the key-set reload under load, limits and
# privilege. A report fails the run; libmilter's own racy shutdown is
# suppressed by name (tests/tsan/suppressions.txt).
TSAN_TESTS = Session|Golden|KeySnapshot|KeyWindows|keyset_reload|limits_and_privilege
tsan: deps
	@cmake -S . -B $(BUILD)-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIGNET_TSAN=ON -DSIGNET_BENCH=OFF >/dev/null
	@cmake --build $(BUILD)-tsan -j $(JOBS) --target unit_tests signet-milter signet milter_load
	@cd $(BUILD)-tsan && TSAN_OPTIONS="halt_on_error=1 exitcode=66 suppressions=$(CURDIR)/tests/tsan/suppressions.txt" \
	  ctest --output-on-failure -j $(JOBS) -R '$(TSAN_TESTS)'
	@if grep -l "WARNING: ThreadSanitizer" $$(find $(BUILD)-tsan/tests -name '*.log') 2>/dev/null; then \
	  echo "make tsan: ThreadSanitizer reports in the files above" >&2; exit 1; fi

demo: build
	@scripts/demo $(BUILD)

# The soak (30 minutes through Postfix, key-set rewrites and cutovers; not in
# CI): SOAK_MINUTES=2 for a quick look.
SOAK_MINUTES ?= 30
bench: deps
	@cmake -S . -B $(BUILD)-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD)-bench -j $(JOBS) --target signet_bench signet signet-milter milter_load
	@$(BUILD)-bench/bench/signet_bench --benchmark_min_time=0.5
	@/usr/bin/python3 bench/postfix_throughput.py $(BUILD)-bench
	@/usr/bin/python3 bench/keyset_scale.py $(BUILD)-bench
	@/usr/bin/python3 bench/soak.py $(BUILD)-bench --minutes $(SOAK_MINUTES)

# signet.conf(5) and docs/configuration.md's option tables, from conf/options.h.
docs: build
	@/usr/bin/python3 tests/integration/test_docs.py --build $(BUILD) --top . --regenerate

# The Debian package (debhelper through dpkg-buildpackage), then lintian.
deb: deps
	@scripts/make-deb $(BUILD)-deb

clean:
	rm -rf $(BUILD) $(BUILD)-bench $(BUILD)-asan $(BUILD)-tsan $(BUILD)-deb
