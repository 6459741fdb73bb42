"""The web app in a real headless browser (Debian's chromium driven by Playwright) over loopback:
drop an image on the page, paint, watch the strokes appear on the canvas, download the SVG; cancel;
a refused upload's message.

Needs chromium and the playwright package: ``scripts/install-browser.sh`` installs both (``make test``
runs it when it can).  Without them these tests are skipped, with one line in the summary saying how
to enable them; under ``CI=true`` they fail instead.  BRUSHWORK_SKIP_BROWSER=1 always skips them.
Set BRUSHWORK_SCREENSHOT=path.png to also save a screenshot of the finished page there.
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import brushwork.painter.painter

LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EXAMPLE = Path(brushwork.__file__).parent / "assets" / "example.png"


def chromium_path() -> str | None:
    for p in (os.environ.get("BRUSHWORK_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
              shutil.which("chromium-browser")):
        if p and os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def missing(what: str) -> None:
    """Skip (fail under CI=true) the browser tests; conftest prints one summary line about it."""
    how = "run scripts/install-browser.sh (root or sudo) to enable them"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what}: the browser tests cannot run under CI=true; {how}", pytrace=False)
    pytest.skip(f"browser tests skipped: {what}; {how}")


@pytest.fixture(scope="module")
def browser():
    if os.environ.get("BRUSHWORK_SKIP_BROWSER") == "1":
        pytest.skip("BRUSHWORK_SKIP_BROWSER=1")
    path = chromium_path()
    if path is None:
        missing("chromium is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package is missing")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=LAUNCH_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def server(monkeypatch):
    """The app on a loopback port.  Real painting (stroke optimisation with few iterations), slowed
    to ~0.25 s per batch of strokes so the test can watch them arrive."""
    pytest.importorskip("uvicorn")
    from brushwork.server import Args, create_app
    from brushwork.server.testing import serve_in_thread

    real_paint = brushwork.painter.painter.paint

    def slow_paint(image, config=None, on_strokes=None, **kw):
        def forward(ev):
            on_strokes(ev)
            time.sleep(0.25)

        return real_paint(image, config, on_strokes=forward, **kw)

    monkeypatch.setattr(brushwork.painter.painter, "paint", slow_paint)
    threads = torch.get_num_threads()
    app = create_app(Args(workers=2, max_queue=4, threads=1, max_upload_mb=5, work=64, optimize_iters=2))
    try:
        with serve_in_thread(app) as url:
            yield url
    finally:
        torch.set_num_threads(threads)


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1180, "height": 760})
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" and "status of 4" not in m.text else None)
    yield pg
    context.close()


def drop_file(page, data: bytes, name: str, mime: str) -> None:
    """Drag-and-drop a file onto the page's drop zone (a real DataTransfer with a File in it)."""
    page.evaluate(
        """([b64, name, mime]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, { type: mime }));
            const zone = document.getElementById("drop");
            for (const type of ["dragenter", "dragover", "drop"]) {
                zone.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
            }
        }""",
        [base64.b64encode(data).decode(), name, mime],
    )


def painted_pixels(page) -> int:
    """Canvas pixels that differ from the white background."""
    return page.evaluate("""() => {
        const c = document.getElementById("canvas");
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] < 250 || d[i + 1] < 250 || d[i + 2] < 250) n++;
        return n;
    }""")


@pytest.mark.slow
def test_paint_watch_strokes_and_download_svg(server, page, tmp_path):
    page.goto(server + "/")
    page.wait_for_function("() => document.getElementById('drop-hint').textContent.length > 0")
    assert page.is_disabled("#paint")
    drop_file(page, EXAMPLE.read_bytes(), "example.png", "image/png")
    page.wait_for_function("() => !document.getElementById('preview').hidden")
    assert page.is_enabled("#paint")
    page.fill("#strokes", "40")
    page.select_option("#shape", "bezier")
    page.select_option("#method", "optimize")
    page.select_option("#background", "white")
    page.select_option("#size", "256")
    page.click("#paint")

    # Watch: strokes are drawn on the canvas while the painting is still running.
    seen_drawn, seen_pixels, t0 = [], [], time.time()
    while True:
        st = page.evaluate("[window.brushwork.state, window.brushwork.drawn, window.brushwork.received]")
        if st[0] == "running" and st[1] > 0:
            seen_drawn.append(st[1])
            seen_pixels.append(painted_pixels(page))
        if st[0] in ("done", "error", "cancelled"):
            break
        assert time.time() - t0 < 60, f"still {st[0]} after 60 s"
        time.sleep(0.05)
    assert st[0] == "done", page.inner_text("#error")
    assert seen_drawn and min(seen_drawn) < 40, "no partial painting was ever shown"
    assert max(seen_pixels) > 0, "the live canvas stayed blank"
    assert len(set(seen_drawn)) >= 2, f"strokes did not arrive progressively: {seen_drawn}"
    assert page.inner_text("#progress") == "40 / 40 strokes"
    assert "Done: 40 strokes" in page.inner_text("#status")
    page.wait_for_function("() => document.getElementById('canvas').dataset.final === '1'")  # the exact PNG
    assert page.eval_on_selector("#canvas", "c => [c.width, c.height]") == [256, 256]

    # Download the SVG through the page's link.
    assert page.is_visible("#downloads")
    formats = page.eval_on_selector_all("#downloads a", "as => as.map(a => a.dataset.format)")
    assert formats == ["png", "svg", "json", "gif", "mp4"]
    with page.expect_download() as info:
        page.click("#downloads a[data-format=svg]")
    dl = info.value
    path = tmp_path / "painting.svg"
    dl.save_as(path)
    svg = path.read_text()
    assert svg.startswith("<svg") and 'width="256"' in svg
    assert len(re.findall(r' id="s\d+"', svg)) == 40
    assert dl.suggested_filename.endswith(".svg")
    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    if os.environ.get("BRUSHWORK_SCREENSHOT"):
        page.screenshot(path=os.environ["BRUSHWORK_SCREENSHOT"], full_page=True)
    assert page.errors == []


def test_cancel_and_refused_upload(server, page):
    page.goto(server + "/")
    page.wait_for_function("() => document.getElementById('drop-hint').textContent.length > 0")
    # A file that claims to be an image but is not: the server's message is shown.
    page.set_input_files("#file", files=[{"name": "fake.png", "mimeType": "image/png", "buffer": b"not really a png"}])
    page.click("#paint")
    page.wait_for_function("() => window.brushwork.state === 'error'")
    assert "not an image" in page.inner_text("#error")

    # A real image, painted with a large budget, cancelled while strokes arrive.
    arr = (np.random.default_rng(0).random((60, 80, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    page.set_input_files("#file", files=[{"name": "noise.png", "mimeType": "image/png", "buffer": buf.getvalue()}])
    assert not page.is_visible("#error")
    page.fill("#strokes", "400")
    page.select_option("#method", "optimize")
    page.click("#paint")
    page.wait_for_function("() => window.brushwork.state === 'running' && window.brushwork.drawn > 0", timeout=30_000)
    assert page.is_enabled("#cancel")
    page.click("#cancel")
    page.wait_for_function("() => window.brushwork.state === 'cancelled'", timeout=10_000)
    assert page.inner_text("#status").startswith("Cancelled after")
    assert page.is_enabled("#paint") and page.is_disabled("#cancel")
    assert page.errors == []
