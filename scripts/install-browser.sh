#!/usr/bin/env bash
# Install what the web app's browser tests need: Debian's chromium (driven by Playwright's Python
# package, which never downloads a browser of its own here) and fonts for readable screenshots.
# Run once before `make test` (CI: from .ci/run); needs root (or sudo) for apt-get.
#   scripts/install-browser.sh            # apt packages + the test extra into .venv
# Tests that need the browser fail with a clear message when it is missing (BRUSHWORK_SKIP_BROWSER=1
# skips them instead).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if ! command -v chromium >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core ca-certificates >/dev/null
fi
chromium --version
# The Python side (playwright, httpx, starlette, uvicorn, python-multipart) comes with the test extra.
PY="${PYTHON:-.venv/bin/python}"
if [ -x "$PY" ]; then
    "$PY" -m pip install --quiet --disable-pip-version-check -e ".[test]"
    "$PY" -c "import playwright, httpx, starlette, uvicorn, multipart; print('playwright', playwright.__version__ if hasattr(playwright, '__version__') else 'ok')"
fi
