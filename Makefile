# The two commands (README.md):
#   make run   installs what is missing, builds Release and starts the server
#              with the simulated plant feeding it
#   make test  builds and runs every test (also what .ci/run calls)
JOBS ?= $(shell nproc)
BUILD ?= build
DATA_DIR ?= ./data

.PHONY: run test build setup clean bench-deps

setup:
	bash scripts/setup.sh

# Also the peers and tools of bench/ (VictoriaMetrics, jq, perf).
bench-deps:
	LIANDU_SETUP_BENCH=1 bash scripts/setup.sh

build: setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DLIANDU_BUILD_TESTS=ON >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: build
	bash scripts/run.sh $(BUILD)/liandu $(DATA_DIR)

test: setup
	bash scripts/test.sh

clean:
	rm -rf build build-asan build-fuzz
