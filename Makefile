# libclipsurgery — build, test, install. See README.md.
#   make            library (static + shared), CLI, tools
#   make check      install missing build dependencies (as root) and run every test
#   make demo       build and run the main job on the fixture photos
#   make bench      benchmarks (JSON lines)
#   make install PREFIX=/usr/local DESTDIR=

VERSION_MAJOR := $(shell sed -n 's/^\#define CS_VERSION_MAJOR \([0-9]*\).*/\1/p' include/clipsurgery.h)
VERSION_MINOR := $(shell sed -n 's/^\#define CS_VERSION_MINOR \([0-9]*\).*/\1/p' include/clipsurgery.h)
VERSION_PATCH := $(shell sed -n 's/^\#define CS_VERSION_PATCH \([0-9]*\).*/\1/p' include/clipsurgery.h)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
PYTHON ?= python3
PYTHONDIR ?= $(shell $(PYTHON) -c "import sysconfig; print(sysconfig.get_path('purelib', vars={'base': '$(PREFIX)', 'platbase': '$(PREFIX)'}))" 2>/dev/null || echo $(PREFIX)/lib/python3/dist-packages)

# GEMM engine (lib/core/gemm_<engine>.c, docs/ENGINES.md): openblas (default, the reference) or
# onednn (oneDNN matmul, Debian libdnnl-dev; OpenBLAS stays linked for its fallbacks). Each engine
# builds into its own folder, so both builds coexist.
GEMM ?= openblas
ifeq ($(GEMM),openblas)
  BUILD ?= build
  ASAN_BUILD ?= build/asan
  GEMM_LIBS :=
  GEMM_CFLAGS :=
  GEMM_DEB :=
  GEMM_HEADERS :=
else ifeq ($(GEMM),onednn)
  BUILD ?= build/onednn
  ASAN_BUILD ?= build/onednn-asan
  GEMM_LIBS := -ldnnl
  GEMM_CFLAGS :=
  GEMM_DEB := libdnnl-dev
  GEMM_HEADERS := oneapi/dnnl/dnnl.h
else
  $(error unknown GEMM=$(GEMM): use GEMM=openblas (the default) or GEMM=onednn)
endif
CS_FIXTURES ?= ../shared/fixtures
export CS_FIXTURES

# OpenBLAS's OpenMP build (Debian libopenblas-openmp-dev), found through its own pkg-config file
# and loaded through an rpath whatever the system's libopenblas.so.0 alternative is. The
# library's parallel loops run on the same OpenMP threads (core/context.c), and a product called
# inside one of them runs serially on its thread, so attention heads run side by side
# (core/gemm.h cs_gemm_nests). With another OpenBLAS loaded first the library still works, with
# the heads one after the other.
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
OPENBLAS_DIR ?= /usr/lib/$(MULTIARCH)/openblas-openmp
BLAS_CFLAGS := $(shell PKG_CONFIG_PATH=$(OPENBLAS_DIR)/pkgconfig pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS := $(shell PKG_CONFIG_PATH=$(OPENBLAS_DIR)/pkgconfig pkg-config --libs openblas 2>/dev/null) \
             -Wl,-rpath,$(OPENBLAS_DIR)
OMP_CFLAGS := -fopenmp -DCS_PARALLEL_OPENMP
OMP_LIBS := -lgomp

# Debian packages the build needs (make deps installs them).
DEB_PACKAGES := libopenblas-dev libopenblas-openmp-dev libpng-dev libjpeg62-turbo-dev zlib1g-dev libutf8proc-dev \
                check pkg-config libjansson-dev python3 gcc g++ make abigail-tools \
                python3-numpy python3-dask python3-distributed python3-setuptools python3-wheel \
                python3-venv python3-pip $(GEMM_DEB)
# Python modules the Python suite needs from Debian's python3 (tests/run-all.sh runs it with
# and without numpy, the Dask tests, and a pip install into a fresh venv).
PY_DEB_MODULES := numpy dask distributed setuptools wheel pip ensurepip
PKGS := libpng libjpeg zlib libutf8proc jansson
# files the build needs that no default pkg-config search finds (tools/ensure-deps.sh)
DEP_FILES := $(OPENBLAS_DIR)/pkgconfig/openblas.pc

DEPS_CFLAGS := $(BLAS_CFLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(OMP_CFLAGS)
DEPS_LIBS := $(BLAS_LIBS) $(shell pkg-config --libs $(PKGS) 2>/dev/null) $(GEMM_LIBS) $(OMP_LIBS) \
             -lpthread -lm
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

OPT ?= -O3
ifeq ($(SAN),1)
  OPT := -O1 -fno-omit-frame-pointer
  SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
endif
WARN := -Wall -Wextra -Werror -Wno-psabi
CFLAGS_ALL := -std=c11 $(OPT) -g $(WARN) -D_GNU_SOURCE -fPIC -fvisibility=hidden \
              -DCS_BUILDING_LIBRARY -Iinclude -Ilib $(DEPS_CFLAGS) $(GEMM_CFLAGS) $(SANFLAGS) \
              $(CFLAGS)
LDFLAGS_ALL := $(SANFLAGS) $(LDFLAGS)

LIB_SRC := $(sort $(filter-out lib/core/gemm_%.c,$(wildcard lib/*/*.c)) lib/core/gemm_$(GEMM).c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC := $(sort $(wildcard src/*.c))
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_UTIL_OBJ := $(BUILD)/tests/testutil.o
TOOL_SRC := $(sort $(wildcard tools/*.c))
TOOL_BIN := $(TOOL_SRC:tools/%.c=$(BUILD)/tools/%)
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

STATIC := $(BUILD)/libclipsurgery.a
SHARED_REAL := $(BUILD)/libclipsurgery.so.$(VERSION)
SHARED_SONAME := libclipsurgery.so.$(VERSION_MAJOR)
SHARED := $(BUILD)/libclipsurgery.so
CLI := $(BUILD)/clipsurgery

.PHONY: all lib cli tools deps ensure-deps check check-run asan demo demo-run bench bench-one bench-run \
        install uninstall clean abi-baseline
.DEFAULT_GOAL := all
.SECONDARY:

all: lib cli tools $(BUILD)/clipsurgery.pc
lib: $(STATIC) $(SHARED)
cli: $(CLI)
tools: $(TOOL_BIN)

$(BUILD)/%.o: %.c $(wildcard include/*.h lib/*/*.h lib/*/*.inc src/*.h tests/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(STATIC): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# Every exported symbol gets a version node from abi/libclipsurgery.map (see abi/README.md).
VERSION_SCRIPT := abi/libclipsurgery.map
$(SHARED_REAL): $(LIB_OBJ) $(VERSION_SCRIPT)
	$(CC) -shared -Wl,-soname,$(SHARED_SONAME) -Wl,--no-undefined \
	    -Wl,--version-script=$(VERSION_SCRIPT) -o $@ $(LIB_OBJ) $(LDFLAGS_ALL) $(DEPS_LIBS)

$(SHARED): $(SHARED_REAL)
	ln -sf libclipsurgery.so.$(VERSION) $(BUILD)/$(SHARED_SONAME)
	ln -sf $(SHARED_SONAME) $@

$(CLI): $(CLI_OBJ) $(STATIC)
	$(CC) -o $@ $(CLI_OBJ) $(STATIC) $(LDFLAGS_ALL) $(DEPS_LIBS)

$(BUILD)/tools/%: $(BUILD)/tools/%.o $(STATIC)
	$(CC) -o $@ $< $(STATIC) $(LDFLAGS_ALL) $(DEPS_LIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(STATIC)
	$(CC) -o $@ $< $(STATIC) $(LDFLAGS_ALL) $(DEPS_LIBS)

$(BUILD)/tests/%.o: tests/%.c $(wildcard include/*.h lib/*/*.h lib/*/*.inc tests/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CHECK_CFLAGS) -c $< -o $@

$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(TEST_UTIL_OBJ) $(STATIC)
	$(CC) -o $@ $< $(TEST_UTIL_OBJ) $(STATIC) $(LDFLAGS_ALL) $(CHECK_LIBS) $(DEPS_LIBS)

$(BUILD)/clipsurgery.pc: pkgconfig/clipsurgery.pc.in Makefile
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@BLAS_LIBS@|$(strip $(BLAS_LIBS))|g' -e 's|@GEMM_LIBS@ |$(GEMM_LIBS:%=% )$(OMP_LIBS) |g' $< > $@

# --- dependencies -------------------------------------------------------------------------
deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_PACKAGES)

ensure-deps:
	@DEB_PACKAGES="$(DEB_PACKAGES)" PKGS="$(PKGS) check" TOOLS="abidiff abidw" \
	    HEADERS="$(GEMM_HEADERS)" FILES="$(DEP_FILES)" \
	    PY_DEB_MODULES="$(PY_DEB_MODULES)" sh tools/ensure-deps.sh

# --- tests --------------------------------------------------------------------------------
check: ensure-deps
	@$(MAKE) --no-print-directory check-run

check-run: all $(TEST_BIN)
	@BUILD=$(BUILD) SAN=$(SAN) CS_FIXTURES=$(CS_FIXTURES) PYTHON=$(PYTHON) sh tests/run-all.sh $(TEST_BIN)

# ASan + UBSan build of the library and the C tests, in its own folder (one per engine).
asan: ensure-deps
	@$(MAKE) --no-print-directory check-run BUILD=$(ASAN_BUILD) SAN=1

# --- demo and bench -----------------------------------------------------------------------
demo: ensure-deps
	@$(MAKE) --no-print-directory demo-run

demo-run: all
	@BUILD=$(BUILD) CS_FIXTURES=$(CS_FIXTURES) sh tools/demo.sh

# `make bench` runs both engines one after the other (each line names its "engine"; the oneDNN
# one also both precisions); `make GEMM=... bench` or BENCH_ENGINES=... runs the ones given.
ifeq ($(origin GEMM),file)
BENCH_ENGINES ?= openblas onednn
else
BENCH_ENGINES ?= $(GEMM)
endif
# Then ONNX Runtime on the same model and CPU (bench/ort: npm's onnxruntime-node, skipped without
# npm or network) and each surgery encode's ratio to it (bench/compare.py); the whole run is kept
# in build/bench/last.jsonl.
bench:
	@mkdir -p build/bench
	@( for e in $(BENCH_ENGINES); do $(MAKE) --no-print-directory GEMM=$$e bench-one || exit 1; done; \
	   sh bench/ort/run.sh build/bench/vitb16-openai-f32.safetensors build/ort || exit 1; \
	   echo 0 > build/bench/last.rc ) | tee build/bench/last.jsonl
	@test "$$(cat build/bench/last.rc 2>/dev/null)" = 0 && rm -f build/bench/last.rc
	@python3 bench/compare.py build/bench/last.jsonl > build/bench/compare.jsonl && \
	  cat build/bench/compare.jsonl && cat build/bench/compare.jsonl >> build/bench/last.jsonl

bench-one: ensure-deps
	@$(MAKE) --no-print-directory bench-run

bench-run: all $(BENCH_BIN)
	@BUILD=$(BUILD) sh bench/run.sh

# --- install ------------------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(BINDIR)
	install -m 644 include/clipsurgery.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(SHARED_REAL) $(DESTDIR)$(LIBDIR)/
	ln -sf libclipsurgery.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SHARED_SONAME)
	ln -sf $(SHARED_SONAME) $(DESTDIR)$(LIBDIR)/libclipsurgery.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
	    -e 's|@VERSION@|$(VERSION)|g' -e 's|@BLAS_LIBS@|$(strip $(BLAS_LIBS))|g' -e 's|@GEMM_LIBS@ |$(GEMM_LIBS:%=% )$(OMP_LIBS) |g' \
	    pkgconfig/clipsurgery.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/clipsurgery.pc
	install -m 755 $(CLI) $(DESTDIR)$(BINDIR)/
	install -d $(DESTDIR)$(PYTHONDIR)/clipsurgery $(DESTDIR)$(PYTHONDIR)/clipsurgery/dask
	install -m 644 bindings/python/clipsurgery/*.py $(DESTDIR)$(PYTHONDIR)/clipsurgery/
	install -m 644 bindings/python/clipsurgery/dask/*.py $(DESTDIR)$(PYTHONDIR)/clipsurgery/dask/
	printf '"""Written by make install: where this install put libclipsurgery."""\nLIBDIR = %s\n' \
	    "'$(LIBDIR)'" > $(DESTDIR)$(PYTHONDIR)/clipsurgery/_config.py

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/clipsurgery.h $(DESTDIR)$(LIBDIR)/libclipsurgery.a \
	      $(DESTDIR)$(LIBDIR)/libclipsurgery.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SHARED_SONAME) \
	      $(DESTDIR)$(LIBDIR)/libclipsurgery.so $(DESTDIR)$(LIBDIR)/pkgconfig/clipsurgery.pc \
	      $(DESTDIR)$(BINDIR)/clipsurgery
	rm -rf $(DESTDIR)$(PYTHONDIR)/clipsurgery

# Rewrites the ABI baseline from the current build (a deliberate commit: say what was added).
abi-baseline: lib
	abidw --headers-dir include --no-corpus-path --out-file abi/libclipsurgery.so.0.abi $(SHARED_REAL)

clean:
	rm -rf build
