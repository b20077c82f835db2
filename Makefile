# The README's two commands:
#   make demo   end-to-end run on 2 ranks (installs packages, builds, runs)
#   make test   the whole test suite through ctest
# Both first install missing Debian packages (non-interactive) and build.

BUILD   ?= build
JOBS    ?= 2
PYTHON  := /usr/bin/python3
DEB_PKGS := build-essential cmake pkg-config petsc-dev libhdf5-openmpi-dev libopenmpi-dev \
            openmpi-bin libopenblas-dev python3-numpy python3-h5py python3-matplotlib python3-torch valgrind gmsh paraview

.PHONY: all deps build test demo bench clean

all: build

# apt-get only when something is missing, so repeated runs cost nothing
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

demo: build
	bash examples/demo.sh $(BUILD)/physflow out/demo

bench: build
	bash bench/run_all.sh $(BUILD)

clean:
	rm -rf $(BUILD)
