# Thin wrapper over CMake. `make` builds into build/ (binaries in build/bin),
# `make run` starts clmd on ./clm-data, `make test` runs every test.
# Both run tools/install-deps.sh first, which installs missing Debian
# packages and does nothing when all are present.

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

.PHONY: all build deps run test clean format deb

all: build

deps:
	@tools/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CLM_CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
ifneq ($(strip $(CLM_CMAKE_FLAGS)),)
	@cmake -S . -B $(BUILD) $(CLM_CMAKE_FLAGS) >/dev/null
endif
	cmake --build $(BUILD) -j $(JOBS)

run: deps
	@$(MAKE) --no-print-directory build
	$(BUILD)/bin/clmd --data ./clm-data $(ARGS)

test: deps
	@$(MAKE) --no-print-directory build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# The Debian packages (debian/), built from a copy of the tree by
# dpkg-buildpackage, into $(BUILD)/deb (docs/deploy.md).
deb: deps
	tools/build-deb.sh $(BUILD)/deb

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
