# One entry point for people and CI. Every target installs what it needs first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := true
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: setup demo pipeline-rehearsal test test-fast lint synth diff cdk-diff bench bench-smoke clean

setup: $(VENV)/.installed node_modules/.installed .triton/.installed .triton/libtriton_loopback_bind.so

# uv installs the same pinned requirements as pip, from where pip would (tools/uv_pip_args.py passes
# the machine's pip configuration on: its wheels, indexes, constraints), downloading and compiling the
# bytecode on every core (docs/test-time.md has the cold-install figures). UV_VERSION pins uv itself.
UV_VERSION ?= 0.13.9
$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q uv==$(UV_VERSION)
	pip_config=$$($(PY) tools/uv_pip_args.py) && \
	  eval "$(VENV)/bin/uv pip install -q --compile-bytecode --python $(PY) -r requirements.txt $$pip_config"
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

# Triton Inference Server 2.51 from the nvidia-pytriton wheel, unpacked (not pip-installed:
# its numpy<2 pin conflicts with the rest of the toolchain). See triton_runtime/server.py.
.triton/.installed: $(VENV)/.installed
	$(PY) -m triton_runtime install --dest .triton
	touch $@

# The bind() shim that keeps Triton's SageMaker port on 127.0.0.1 (Triton 2.51 has no address flag
# for it), compiled with the machine's C compiler. See triton_runtime/loopback_bind.c.
.triton/libtriton_loopback_bind.so: triton_runtime/loopback_bind.c .triton/.installed
	$(PY) -m triton_runtime build-shim --dest .triton

demo: setup
	$(PY) -m rehearsal.demo

# The CI/CD pipeline's stages, in order, against the emulator and the local data plane (docs/rehearsal.md,
# "The pipeline, locally"): synth -> deploy Staging -> smoke test -> permissions check -> approval
# (granted locally) -> deploy Production -> smoke test. BROKEN=1 deploys a deliberately broken model: the
# staging smoke test stops the promotion (exit status 1). PIPELINE_ARGS passes flags on, e.g.
# PIPELINE_ARGS="--async-model none --mme-models none".
BROKEN ?=
PIPELINE_ARGS ?=
pipeline-rehearsal: setup
	PIPELINE_BROKEN_MODEL="$(BROKEN)" $(PY) -m rehearsal.pipeline $(PIPELINE_ARGS)

# actionlint checks .github/workflows (and, through shellcheck, their run: scripts): docs/pull-requests.md.
# The suite runs on every core, one test file per worker (its module fixtures — one emulator, one
# Triton — stay in one process); docs/test-time.md has the measured figures (a third worker on 2 cores
# was tried: no clear gain). Files are
# handed out longest first (tests/conftest.py LONGEST_FILES_FIRST; --no-loadscope-reorder keeps that
# order instead of xdist's most-tests-first), so that no long file runs alone at the end.
test: setup
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(VENV)/bin/actionlint
	$(PY) -m pytest -n auto --dist loadfile --no-loadscope-reorder

# The suite without the tests marked slow (they start moto, Triton or the CDK CLI; tests/conftest.py
# fails any other test that does), on every core: what the pipeline's synth step runs.
test-fast: setup
	$(PY) -m pytest -m "not slow" -n auto --dist loadfile --no-loadscope-reorder

lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(VENV)/bin/actionlint

synth: setup
	$(CDK) synth --quiet

# What merging the working tree would change, in plain words for a reviewer, with no AWS credentials:
# BASE (default HEAD; e.g. `make diff BASE=origin/main`) is synthesized in a temporary git worktree, the
# working tree into cdk.out, and `python -m operations diff` explains the difference (docs/diff.md).
# Both synths share the build cache. DIFF_ARGS passes flags on, e.g.
# DIFF_ARGS="--format markdown --fail-on-destructive"; CDK_ARGS passes context to both synths, e.g.
# CDK_ARGS="-c mme_models=resnet-tiny". The worktree is removed however the run ends (Ctrl-C too).
BASE ?= HEAD
DIFF_ARGS ?=
CDK_ARGS ?=
diff: setup
	@set -euo pipefail; \
	base_ref=$$(git rev-parse --verify --quiet "$(BASE)^{commit}") \
	  || { echo "make diff: BASE=$(BASE) is not a commit of this repository; e.g. make diff BASE=origin/main" >&2; exit 2; }; \
	tmp=$$(mktemp -d); \
	cleanup() { git worktree remove --force "$$tmp/base" >/dev/null 2>&1 || true; rm -rf "$$tmp"; git worktree prune; }; \
	trap cleanup EXIT; trap 'exit 130' INT TERM; \
	export MODEL_BUILD_CACHE_DIR="$${MODEL_BUILD_CACHE_DIR:-$(CURDIR)/.model-build-cache}"; \
	git worktree add --quiet --detach "$$tmp/base" "$$base_ref"; \
	echo "make diff: synthesizing BASE=$(BASE) ($$(git rev-parse --short "$$base_ref")) in a temporary worktree" >&2; \
	( cd "$$tmp/base" && PYTHONPATH="$$tmp/base:$$tmp/base/constructs" \
	  "$(CURDIR)/$(CDK)" synth --quiet --app "$(CURDIR)/$(PY) app.py" -o "$$tmp/base.out" $(CDK_ARGS) >/dev/null ); \
	echo "make diff: synthesizing the working tree into cdk.out" >&2; \
	$(CDK) synth --quiet $(CDK_ARGS) >/dev/null; \
	$(PY) -m operations diff --base "$$tmp/base.out" --head cdk.out $(DIFF_ARGS)

# The CDK CLI's own diff against the deployed stacks (needs AWS credentials).
cdk-diff: setup
	$(CDK) diff

bench: setup
	$(PY) bench/bench_build.py
	$(PY) -m tuning matrix --full

bench-smoke: setup
	$(PY) -m tuning matrix --smoke

clean:
	rm -rf cdk.out .model-build-cache bench/results
