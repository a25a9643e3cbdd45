# Thin wrapper over CMake. `make` builds into build/ (binaries in build/bin),
# `make run` builds clmd and clm only and starts clmd on ./clm-data (flags
# for it in ARGS="..."), `make test` builds everything and runs every test.
# Both run tools/install-deps.sh first (`run`: what clmd and clm need;
# `test`: everything), which installs missing Debian packages and does
# nothing when all are present.

BUILD ?= build
# CMAKE_FLAGS: extra cmake flags of the caller's. CLM_CMAKE_FLAGS adds what
# CI and CLM_SANITIZE ask for; it is recomputed (not inherited) by the
# sub-make, so nothing is added twice.
CMAKE_FLAGS ?=
CLM_CMAKE_FLAGS := $(CMAKE_FLAGS)
# CI (CI=true) builds with warnings as errors.
ifneq ($(CI),)
CLM_CMAKE_FLAGS += -DCLM_WERROR=ON
endif
ifneq ($(CLM_SANITIZE),)
CLM_CMAKE_FLAGS += "-DCLM_SANITIZE=$(CLM_SANITIZE)"
endif
unexport CLM_CMAKE_FLAGS
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all build configure deps run test clean format deb

all: build

deps:
	@tools/install-deps.sh

# A build dir is complete once cmake has generated its build files: a
# configure that failed (a package missing) leaves CMakeCache.txt without
# them, so configure again until it has.
configure:
	@if [ ! -f $(BUILD)/Makefile ] && [ ! -f $(BUILD)/build.ninja ]; then \
		echo "cmake -S . -B $(BUILD) $(CLM_CMAKE_FLAGS)"; \
		cmake -S . -B $(BUILD) $(CLM_CMAKE_FLAGS); \
	elif [ -n "$(strip $(CLM_CMAKE_FLAGS))" ]; then \
		cmake -S . -B $(BUILD) $(CLM_CMAKE_FLAGS) >/dev/null; \
	fi

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# clmd and clm only: no tests, no fuzz targets, no Node modules.
run:
	@tools/install-deps.sh run
	@$(MAKE) --no-print-directory configure
	cmake --build $(BUILD) -j $(JOBS) --target clmd clm
	$(BUILD)/bin/clmd --data ./clm-data $(ARGS)

# Configured again first: a build dir made by `make run` before the test
# packages were installed has no tests in it yet.
test: deps
	cmake -S . -B $(BUILD) $(CLM_CMAKE_FLAGS) >/dev/null
	@if [ ! -f $(BUILD)/tests/CTestTestfile.cmake ]; then \
		echo "make: no tests in $(BUILD) (is libcriterion-dev installed?)" >&2; \
		exit 1; \
	fi
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# The Debian packages (debian/), built from a copy of the tree by
# dpkg-buildpackage, into $(BUILD)/deb (docs/deploy.md).
deb: deps
	tools/build-deb.sh $(BUILD)/deb

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
