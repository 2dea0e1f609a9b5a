# The course's commands. On a fresh machine `make demo` and `make test` do all the set-up.
#   make demo      stylize Tübingen x The Starry Night -> outputs/demo.png (NETWORK=vgg19|vgg16|squeezenet)
#   make test      unit tests + every lecture run twice (student edition in fast mode, lecture in toy full mode)
#   make student   write the student edition, student/NN_*.ipynb
#   make figures   execute every notebook (papermill) into build/, figures into figures/
#   make lab       open the course in Jupyter
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
NETWORK ?=

# Offline machines keep the course files in a folder laid out like ../shared/assets
# (images/content, images/style, weights, tflite); use it when it is there.
NST_ASSETS_DIR ?= $(if $(wildcard ../shared/assets/images),$(abspath ../shared/assets),)
export NST_ASSETS_DIR
export TF_CPP_MIN_LOG_LEVEL := 3

# The Keras ImageNet VGG19 file, where Keras or NST_ASSETS_DIR would have it; without it the
# tests and notebooks run VGG with untrained features (and say so wherever a result is shown).
VGG19_FILE := vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5
HAVE_VGG19 := $(wildcard $(or $(KERAS_HOME),$(HOME)/.keras)/models/$(VGG19_FILE) $(NST_ASSETS_DIR)/keras/models/$(VGG19_FILE))
TEST_VGG_WEIGHTS := $(or $(NST_VGG_WEIGHTS),$(if $(HAVE_VGG19),imagenet,random))
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
# Two pytest workers: much of a run is single-threaded (kernel start-up, imports, tracing), so two
# share the 2-core machine well. loadscope keeps the cells of one notebook on one worker, in order,
# and a test module on one worker (its fixtures are built once), except its classes: each lecture's
# full-mode run is a class of its own (tests/test_notebooks_full_mode.py).
# TEST_WORKERS= (empty) runs everything in one process.
TEST_WORKERS ?= -n 2 --dist loadscope --no-loadscope-reorder
# One TensorFlow thread per worker when there are workers: by default each process's pools use
# every core, so two workers' pools oversubscribe the two cores and spin against each other.
# Measured in one fresh clone: tests' summed durations 1191 -> 1060 s, wall 625 -> 577 s. One
# inter-op thread as well (the pool that runs independent ops side by side also spins): same clone,
# same commit, tests 574 -> 557 s, CPU 1134 -> 1078 s; the next run took 574 s again: a few percent at most.
TEST_THREADS ?= $(if $(TEST_WORKERS),TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 OMP_NUM_THREADS=1)
UV_VERSION ?= 0.13.9

.PHONY: install demo test student figures lab bench gpu-check gpu-python clean

# uv installs the same pinned requirements from PyPI as pip, with parallel downloads: measured on
# a fresh venv here, 54 s against pip's 621 s (most of a CI run's set-up). pip is the fallback.
# --compile-bytecode writes the .pyc files at install, as pip does: uv does not by default, and
# where PYTHONDONTWRITEBYTECODE=1 is set (CI here) no process would ever write them, so every one
# compiled TensorFlow's sources again: 12.8 s of CPU per `import tensorflow` against 3.9 s
# (measured; a test run starts ~70 Python processes). Compiling once costs ~10 s.
$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv==$(UV_VERSION) || true
	if [ -x $(VENV)/bin/uv ]; then \
	  $(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -r requirements.txt && \
	  $(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e . ; \
	else \
	  $(PY) -m pip install --quiet --upgrade pip && \
	  $(PY) -m pip install --quiet -r requirements.txt && \
	  $(PY) -m pip install --quiet --no-deps -e . ; \
	fi
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) -m nst_tf demo --overwrite $(if $(NETWORK),--network $(NETWORK))  # the course's own output: a rerun replaces it

# Every lecture runs twice: its student edition top to bottom in fast mode under nbval (every
# lecture cell; the exercises as stubs, which report "not attempted yet"), and the lecture itself
# in full mode at toy size through papermill (tests/test_notebooks_full_mode.py: the full-mode
# branches, and every solution passing its check). tests/test_editions.py fails if student/ is stale.
# The scopes go to the workers longest first (tests/conftest.py orders the collection; xdist's own
# reordering, by number of tests, is off), so the run ends on short test modules on both workers.
STUDENT_NOTEBOOKS := $(sort $(wildcard student/*.ipynb))
test: install
	@echo "make test: fast mode, VGG weights: $(TEST_VGG_WEIGHTS)"
	NST_FAST=1 NST_VGG_WEIGHTS=$(TEST_VGG_WEIGHTS) MPLBACKEND=Agg $(TEST_THREADS) \
	  $(PY) -m pytest $(STUDENT_NOTEBOOKS) tests --nbval-lax --nbval-current-env -p no:cacheprovider --durations=25 $(TEST_WORKERS)

# The student edition (student/NN_*.ipynb): solutions replaced by stubs, nbgrader's markers kept.
# Generated only here, and committed so that Colab can open it; a test checks it is current.
student: install
	$(PY) -m nst_tf.editions notebooks student

# Full mode unless NST_FAST=1 is given; executed copies in build/, figures in figures/<notebook>/.
# Figures are for slides, so VGG has its ImageNet weights (downloaded and hash-checked once); with
# no weights it stops before the first notebook. Untrained features only when asked for with
# NST_VGG_WEIGHTS=random, and then every VGG figure carries the red UNTRAINED banner.
FIGURES_VGG_WEIGHTS := $(or $(NST_VGG_WEIGHTS),imagenet)
figures: install
	@mkdir -p build figures
	@$(if $(filter random,$(FIGURES_VGG_WEIGHTS)),echo "figures: UNTRAINED VGG features, as asked (NST_VGG_WEIGHTS=random): VGG figures carry the banner",$(PY) -m nst_tf weights vgg19)
	@for nb in $(NOTEBOOKS); do name=$$(basename $$nb .ipynb); echo "== $$name"; \
	  NST_FAST=$(or $(NST_FAST),0) NST_VGG_WEIGHTS=$(FIGURES_VGG_WEIGHTS) NST_SAVE_FIGURES=1 \
	  NST_NOTEBOOK=$$name NST_FIGURES_DIR=$(abspath figures) MPLBACKEND=Agg \
	  $(VENV)/bin/papermill --cwd notebooks --log-level WARNING $$nb build/$$name.ipynb || exit 1; done
	@find figures -name '*.png' | sort

lab: install
	$(VENV)/bin/jupyter lab notebooks/

# Tables of measured speed (no assertions). QUICK=1 for the under-3-minute versions.
bench: install
	$(PY) benchmarks/bench_step.py $(if $(QUICK),--quick)
	$(PY) benchmarks/bench_fast.py $(if $(QUICK),--quick)
	$(PY) benchmarks/bench_memory.py $(if $(QUICK),--quick)
	$(PY) benchmarks/bench_training.py $(if $(QUICK),--quick)
	$(PY) benchmarks/bench_quality.py $(if $(QUICK),--quick)

# For whoever has a GPU: every notebook in full mode with ImageNet VGG19 -> build/gpu-report.md
# (times, memory, failures, figures in build/figures). It runs on the machine's own Python, GPU_PYTHON
# (on Colab python3, the default), whose TensorFlow matches the system's CUDA and sees the GPU; not on
# .venv, whose pinned TensorFlow may not. gpu-python installs the course package into it with the
# lectures' extras, TensorFlow pinned to the installed version so that pip never replaces it (tf-keras
# then resolves to the matching release). The kernels are that Python too (gpu_check.py's own kernelspec).
# GPU_CHECK_ARGS="--dry-run --notebooks 00 03" on a CPU: .venv (make install), unless GPU_PYTHON is given.
GPU_PYTHON ?= $(if $(filter --dry-run,$(GPU_CHECK_ARGS)),$(PY),python3)
gpu-check: $(if $(filter $(PY),$(GPU_PYTHON)),install,gpu-python)
	$(GPU_PYTHON) benchmarks/gpu_check.py $(GPU_CHECK_ARGS)

gpu-python:
	@tf=$$($(GPU_PYTHON) -c "from importlib.metadata import version; print(version('tensorflow'))" 2>/dev/null) || { \
	  echo "gpu-check: $(GPU_PYTHON) has no TensorFlow; set GPU_PYTHON to the Python whose TensorFlow sees the GPU" >&2; exit 1; }; \
	echo "gpu-check: installing the course package into $(GPU_PYTHON), keeping its tensorflow==$$tf"; \
	$(GPU_PYTHON) -m pip install --quiet -e ".[notebooks]" "papermill>=2.5" ipykernel "tensorflow==$$tf"

clean:
	rm -rf build figures outputs .pytest_cache
