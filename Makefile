# brushwork — two commands: `make demo` and `make test`.  Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU build of PyTorch (a plain `torch` would pull a multi-GB CUDA build); GPU users install
# their own torch first — the package itself only requires torch>=2.4.
TORCH  ?= torch==2.13.0

.PHONY: demo test install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $@

install: $(VENV)/.installed

demo: install
	@mkdir -p out
	$(BIN)/brushwork paint brushwork/assets/example.png -o out/painting.png \
		--svg out/painting.svg --json out/strokes.json --video out/process.gif
	$(BIN)/brushwork render out/strokes.json -o out/process.mp4
	@echo "demo: wrote out/painting.png, out/painting.svg, out/strokes.json, out/process.gif, out/process.mp4"

# The browser tests need chromium: installed here when missing and root or sudo is at hand; else they
# are skipped with one line saying why (under CI=true they fail instead).
# The golden paintings run twice: as built for this CPU, then under the generic instruction sets of
# torch and numba, so that a float-order difference (another CPU family) is proven harmless here.
test: install
	@scripts/install-browser.sh --if-possible
	$(BIN)/python -m pytest
	ATEN_CPU_CAPABILITY=default NUMBA_CPU_NAME=generic $(BIN)/python -m pytest -m golden -p no:cacheprovider --durations=0 tests/test_golden.py

clean:
	rm -rf $(VENV) out .pytest_cache
