# A thin wrapper over CMake: `make run` and `make test` are the README's two commands.
#   make run      install dependencies, build, run hnvmfd on its embedded default
#   make test     install dependencies, build (normal + ASan/UBSan), run every test (and the
#                 lock-free ring tests again under ThreadSanitizer, tests/tsan/run.sh),
#                 then the interop suite (real Linux host in a QEMU guest; HNVMF_SKIP_INTEROP=1 skips it)
#   make deb      build the Debian package (build-deb/hnvmf_VERSION_ARCH.deb; docs/operations.md)
#   make fuzz     build the libFuzzer targets (clang, build-fuzz) and run each FUZZ_SECONDS
#                 (docs/testing.md); `make unit` runs them FUZZ_SHORT_SECONDS each
JOBS    ?= $(shell nproc)
BUILD   ?= build
SANBUILD ?= build-asan
FUZZBUILD ?= build-fuzz
DEBBUILD ?= build-deb
FUZZ_SECONDS ?= 300
FUZZ_SHORT_SECONDS ?= 15
HNVMFD_ARGS ?=

.PHONY: all deps build build-asan build-fuzz run test unit fuzz interop deb clean
all: build

deps:
	@sh tools/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHNVMF_WERROR=ON >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(SANBUILD) -DCMAKE_BUILD_TYPE=Debug -DHNVMF_SANITIZE=ON -DHNVMF_WERROR=ON >/dev/null
	cmake --build $(SANBUILD) -j $(JOBS)

# libFuzzer needs clang; the libraries are built with ASan, UBSan and coverage (HNVMF_FUZZ).
build-fuzz: deps
	CC=clang cmake -S . -B $(FUZZBUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHNVMF_FUZZ=ON -DHNVMF_WERROR=ON >/dev/null
	cmake --build $(FUZZBUILD) -j $(JOBS) --target hnvmf_fuzz

fuzz: build-fuzz
	sh tests/fuzz/run.sh $(FUZZBUILD) $(FUZZ_SECONDS)

# The package as a user's machine gets it: prefix /usr (configuration in /etc), no tests,
# warnings not errors, RDMA where its libraries are installed.
deb: deps
	cmake -S . -B $(DEBBUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr -DHNVMF_TESTS=OFF >/dev/null
	cmake --build $(DEBBUILD) -j $(JOBS)
	cd $(DEBBUILD) && cpack -G DEB

run: build
	exec ./$(BUILD)/target/hnvmfd $(HNVMFD_ARGS)

unit: build build-asan build-fuzz
	cd $(BUILD) && ctest --output-on-failure
	cd $(SANBUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest --output-on-failure
	sh tests/tsan/run.sh
	sh tests/fuzz/run.sh $(FUZZBUILD) $(FUZZ_SHORT_SECONDS)

interop: build
	@if [ "$${HNVMF_SKIP_INTEROP:-0}" = 1 ]; then echo "interop: skipped (HNVMF_SKIP_INTEROP=1)"; \
	elif [ -x tests/interop/run.sh ]; then tests/interop/run.sh $(BUILD); \
	else echo "interop: no suite yet"; fi

test: unit interop

clean:
	rm -rf $(BUILD) $(SANBUILD) $(FUZZBUILD) $(DEBBUILD)
