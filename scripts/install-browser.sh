#!/usr/bin/env bash
# Install what the web app's browser tests (tests/test_server_e2e.py) need:
#   * Debian's chromium (Playwright drives it through executable_path=/usr/bin/chromium; Playwright's
#     own browser download is never used) and a font for readable pages / screenshots;
#   * the Python side (playwright, httpx and the web extra) into .venv when it already exists
#     (`make test` installs the same packages through the test extra, so the order does not matter).
# Needs root (or sudo) for apt-get.  Idempotent: does nothing that is already done.
# Without chromium the browser tests fail saying so; BRUSHWORK_SKIP_BROWSER=1 skips them instead.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if ! command -v chromium >/dev/null 2>&1; then
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
