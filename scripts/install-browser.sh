#!/usr/bin/env bash
# Install what the web app's browser tests (tests/test_server_e2e.py) need:
#   * Debian's chromium (Playwright drives it through executable_path=/usr/bin/chromium; Playwright's
#     own browser download is never used) and a font for readable pages / screenshots;
#   * the Python side (playwright, httpx and the web extra) into .venv when it already exists
#     (`make test` installs the same packages through the test extra, so the order does not matter).
# Needs root (or sudo) for apt-get.  Idempotent: does nothing that is already done.
#
# --if-possible (what `make test` runs): install chromium only when it is missing and root or
# password-less sudo is at hand; otherwise say in one line that the browser tests will be skipped
# (under CI=true they fail instead) and exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."

have_chromium() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if [ "${1:-}" = "--if-possible" ]; then
    have_chromium && exit 0
    if [ -n "$SUDO" ] && ! { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; then
        if [ "${CI:-}" = "true" ]; then
            echo "browser: chromium is missing and cannot be installed here (no root, no sudo); under CI=true the browser tests will fail"
        else
            echo "browser: chromium is missing and cannot be installed here (no root, no sudo): the browser tests will be skipped; run scripts/install-browser.sh as root to enable them"
        fi
        exit 0
    fi
    echo "browser: chromium is missing; installing it (scripts/install-browser.sh)"
fi
if ! have_chromium; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core ca-certificates >/dev/null
fi
echo "browser: $(chromium --version 2>/dev/null | tail -n 1)"

PY="${PYTHON:-.venv/bin/python}"
if [ -x "$PY" ]; then
    # Only these packages (not `-e .`): a venv without torch yet must not pull the CUDA build here.
    "$PY" -m pip install --quiet --disable-pip-version-check \
        "playwright>=1.45" "httpx>=0.27" "starlette>=0.40" "uvicorn>=0.30" "python-multipart>=0.0.18"
    "$PY" -c "import playwright.sync_api, httpx, starlette, uvicorn, multipart; print('python: playwright, httpx, starlette, uvicorn, python-multipart ok')"
else
    echo "python: $PY not found; \`make test\` installs playwright and the web packages with the test extra"
fi
