"""The web app's HTTP API, in process (httpx over the ASGI app; no sockets): painting with live
events, downloads, limits and their messages, the queue, cancel, expiry, and what is never served."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("starlette", reason="the web extra is not installed: pip install -e '.[test]'")
import httpx  # noqa: E402

import brushwork.painter.painter  # noqa: E402
from brushwork.painter.painting import Painting  # noqa: E402
from brushwork.server import Args, create_app  # noqa: E402

UUID0 = "00000000-0000-4000-8000-000000000000"


# ------------------------------------------------------------------------------------------ helpers


def fast(**kw) -> Args:
    """Settings for quick real paintings: stroke optimisation with very few iterations, one torch
    thread per painting (the test machine's cores are shared)."""
    return Args(**{"threads": 1, "optimize_iters": 2, **kw})


def png_bytes(w: int = 48, h: int = 36, mode: str = "RGB", seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    arr = np.stack([x * 255 // max(1, w - 1), y * 255 // max(1, h - 1), rng.integers(0, 256, (h, w))], 2).astype(np.uint8)
    im = Image.fromarray(arr)
    if mode == "RGBA":
        im = im.convert("RGBA")
        im.putalpha(Image.fromarray((x * 255 // max(1, w - 1)).astype(np.uint8)))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def parse_sse(text: str) -> list[tuple[int, str, dict]]:
    out = []
    for block in text.split("\n\n"):
        fields = {}
        for line in block.split("\n"):
            if line and not line.startswith(":") and ":" in line:
                k, v = line.split(":", 1)
                fields[k] = v[1:] if v.startswith(" ") else v
        if "event" in fields:
            out.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
    return out


def run(settings: Args, fn):
    """Run ``await fn(client, app)`` against a fresh app; the app's workers are stopped afterwards."""
    app = create_app(settings)

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as client:
            return await fn(client, app)

    threads = torch.get_num_threads()
    try:
        return asyncio.run(main())
    finally:
        app.state.jobs.close()
        torch.set_num_threads(threads)  # the workers set it process-wide


async def submit(client, image: bytes | None = None, filename: str = "photo.png", **options):
    files = {"image": (filename, png_bytes() if image is None else image, "image/png")}
    return await client.post("/api/paint", files=files, data={k: str(v) for k, v in options.items()})


async def events(client, job_id: str, headers=None) -> list[tuple[int, str, dict]]:
    r = await client.get(f"/api/jobs/{job_id}/events", headers=headers or {})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    return parse_sse(r.text)


async def wait_state(client, job_id: str, states: tuple[str, ...], timeout: float = 30.0) -> dict:
    t0 = time.time()
    while True:
        j = (await client.get(f"/api/jobs/{job_id}")).json()
        if j["state"] in states:
            return j
        assert time.time() - t0 < timeout, f"job stayed {j['state']} for {timeout} s"
        await asyncio.sleep(0.02)


SMALL = dict(strokes=8, size=40, method="optimize")


# ------------------------------------------------------------------------------------------ pages


def test_page_static_and_health():
    async def go(c, app):
        r = await c.get("/")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert 'id="canvas"' in r.text and "/static/app.js" in r.text
        assert "http://" not in r.text and "https://" not in r.text  # no CDN: everything is local
        assert "default-src 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
        for path, kind in (("/static/app.js", "javascript"), ("/static/shapes.js", "javascript"), ("/static/app.css", "css"),
                           ("/favicon.ico", "svg")):
            r = await c.get(path)
            assert r.status_code == 200 and kind in r.headers["content-type"], path
            assert "http://" not in r.text.replace("http://www.w3.org/2000/svg", "")
        shapes_js = (await c.get("/static/shapes.js")).text  # the page's live drawing, from the shape registry
        from brushwork.stroke import SHAPES

        assert all(f'"{name}": {{ length: ' in shapes_js for name in SHAPES)
        h = (await c.get("/api/health")).json()
        assert h["status"] == "ok" and h["queued"] == 0 and h["running"] == 0 and h["workers"] == 1
        cfg = (await c.get("/api/config")).json()
        assert cfg["max_strokes"] == 50 and "bezier" in cfg["shapes"] and cfg["formats"] == ["png", "svg", "json", "gif", "mp4"]
        assert cfg["agent"]["available"] in (True, False)

    run(fast(workers=1, max_strokes=50), go)


def test_the_page_starts_from_the_cli_defaults():
    """One set of defaults: the page's options are the CLI's (method, detail, shape, background, the
    automatic stroke count by size and detail), and an upload without options paints what
    `brushwork paint --width SIZE` would."""
    from brushwork.painter.painter import PaintConfig, auto_strokes

    async def go(c, app):
        cfg = (await c.get("/api/config")).json()
        d = PaintConfig()
        assert cfg["defaults"] == {"strokes": 0, "size": 512, "shape": d.shape, "method": d.method, "detail": d.detail,
                                   "background": d.background, "medium": d.medium}
        assert cfg["auto_strokes"]["auto"]["normal"]["512"] == auto_strokes("auto", 512, 512, "normal") == 2000
        assert cfg["auto_strokes"]["optimize"]["fine"]["1024"] == 8000
        assert cfg["auto_strokes"]["agent"]["normal"]["256"] == 200
        r = await submit(c, png_bytes(48, 36), size=64, detail="draft")  # strokes and method left to the defaults
        j = r.json()
        assert r.status_code == 202, j
        assert j["options"]["strokes"] == auto_strokes("auto", 64, 48, "draft") and j["options"]["detail"] == "draft"
        html = (await c.get("/")).text
        assert 'id="detail"' in html and 'placeholder="auto"' in html

    run(fast(workers=1), go)


def test_the_automatic_count_stops_at_the_servers_limit():
    async def go(c, app):
        r = await submit(c, png_bytes(48, 36), size=512, method="optimize")
        assert r.status_code == 202 and r.json()["options"]["strokes"] == 40

    run(fast(workers=1, max_strokes=40), go)


@pytest.mark.parametrize("path", [
    "/static/../__init__.py", "/static/..%2f__init__.py", "/static/%2e%2e/app.py", "/static/index.html",
    "/static/", "/brushwork/server/app.py", "/api/jobs/../../etc/passwd", "/api/jobs/%2e%2e%2fapp.py/result.png",
    f"/api/jobs/{UUID0}/result.py", "/api/jobs/not-a-uuid/result.png", "/etc/passwd", "/docs", "/openapi.json",
])
def test_nothing_outside_the_routes_is_served(path):
    async def go(c, app):
        r = await c.get(path)
        assert r.status_code in (404, 405), (path, r.status_code)
        assert "import" not in r.text and "root:" not in r.text
        assert r.headers["content-type"].startswith("application/json")

    run(fast(workers=1), go)


# ------------------------------------------------------------------------------------------ painting


def test_paint_streams_strokes_then_results():
    async def go(c, app):
        r = await submit(c, png_bytes(48, 36), strokes=12, size=48, method="optimize", shape="bezier", background="white")
        assert r.status_code == 202, r.text
        j = r.json()
        assert j["width"] == 48 and j["height"] == 36 and j["options"]["strokes"] == 12
        evs = await events(c, j["id"])
        kinds = [k for _, k, _ in evs]
        assert kinds[0] == "state" and evs[0][2]["state"] == "queued"
        assert ("state", "running") in [(k, d.get("state")) for _, k, d in evs]
        assert kinds[-1] == "done" and kinds.count("done") == 1
        assert [i for i, _, _ in evs] == list(range(len(evs)))  # ids are the event index
        strokes = [d for _, k, d in evs if k == "strokes"]
        assert len(strokes) >= 2, "strokes should arrive in several batches"
        assert [d["done"] for d in strokes] == sorted(d["done"] for d in strokes) and strokes[-1]["done"] == 12
        assert sum(len(d["strokes"]) for d in strokes if not d["replace"]) == 12
        assert not strokes[0]["replace"]
        for d in strokes:
            assert len(d["draw"]) == len(d["strokes"]) == len(d["frames"])
            assert all(len(row) == 13 for row in d["draw"])  # bezier: 10 geometry numbers + RGB
            assert all(0 <= v <= 1 for s in d["strokes"] for v in s)
        running = next(d for _, k, d in evs if k == "state" and d["state"] == "running")
        assert running["background"] == "#ffffff" and running["shape"] == "bezier"
        done = evs[-1][2]
        m = done["metrics"]
        assert m["strokes"] == 12 and m["method"] == "optimize" and m["width"] == 48 and "psnr" in m
        assert set(done["results"]) == {"png", "svg", "json", "gif", "mp4"}

        png = await c.get(done["results"]["png"])
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert "attachment" in png.headers["content-disposition"]
        im = Image.open(io.BytesIO(png.content))
        assert im.size == (48, 36)
        svg = await c.get(done["results"]["svg"])
        assert svg.headers["content-type"].startswith("image/svg+xml") and svg.text.startswith("<svg")
        assert len(re.findall(r' id="s\d+"', svg.text)) == 12  # one element per stroke
        js = await c.get(done["results"]["json"])
        p = Painting.from_json(js.json())
        assert len(p) == 12 and (p.width, p.height) == (48, 36)
        # The stream ends on the painting's own strokes: the optimize method's final joint pass moves
        # them all, so the server sends them once more, replacing.
        assert strokes[-1]["replace"] and strokes[-1]["done"] == 12
        assert torch.allclose(torch.tensor(strokes[-1]["strokes"]), p.strokes, atol=1e-4)
        gif = await c.get(done["results"]["gif"])
        assert gif.content[:6] in (b"GIF87a", b"GIF89a")
        mp4 = await c.get(done["results"]["mp4"])
        assert mp4.headers["content-type"] == "video/mp4" and mp4.content[4:8] == b"ftyp"
        st = (await c.get(f"/api/jobs/{j['id']}")).json()
        assert st["state"] == "done" and st["done"] == 12 and st["metrics"]["strokes"] == 12

    run(fast(workers=1), go)


@pytest.mark.parametrize("shape", ["circle", "triangle", "bezier-opaque"])
def test_other_shapes_and_backgrounds(shape):
    async def go(c, app):
        r = await submit(c, png_bytes(40, 40, mode="RGBA"), strokes=6, size=32, method="auto", shape=shape,
                         background="transparent")
        assert r.status_code == 202, r.text
        evs = await events(c, r.json()["id"])
        assert evs[-1][1] == "done", evs[-1]
        n = {"circle": 7, "triangle": 10, "bezier-opaque": 13}[shape]
        assert all(len(row) == n for _, k, d in evs if k == "strokes" for row in d["draw"])
        png = await c.get(evs[-1][2]["results"]["png"])
        assert Image.open(io.BytesIO(png.content)).mode == "RGBA"  # transparent background

    run(fast(workers=1), go)


def test_medium_paints_live_strokes_flat_and_the_final_image_in_the_medium():
    async def go(c, app):
        cfg = (await c.get("/api/config")).json()
        assert cfg["media"][0] == "flat" and "oil" in cfg["media"] and cfg["defaults"]["medium"] == "flat"
        pngs = {}
        for medium in ("flat", "oil"):
            r = await submit(c, png_bytes(40, 40), strokes=6, size=32, method="optimize", medium=medium)
            assert r.status_code == 202, r.text
            evs = await events(c, r.json()["id"])
            assert evs[-1][1] == "done", evs[-1]
            assert any(k == "strokes" and d["draw"] for _, k, d in evs)  # live strokes as for flat
            pngs[medium] = np.asarray(Image.open(io.BytesIO((await c.get(evs[-1][2]["results"]["png"])).content)))
        assert pngs["flat"].shape == pngs["oil"].shape and not np.array_equal(pngs["flat"], pngs["oil"])

    run(fast(workers=1), go)


def test_agent_and_refine_methods(tiny_actor):
    async def go(c, app):
        cfg = (await c.get("/api/config")).json()
        assert cfg["agent"] == {"available": True, "shape": "bezier"}
        # agent: strokes arrive a step (k = 5 per tile) at a time, then all of them again after the colour
        # fit and the repaint (a replace): the kept strokes first, in their order, then the re-painted ones.
        r = await submit(c, strokes=12, size=40, method="agent")
        assert r.status_code == 202, r.text
        evs = await events(c, r.json()["id"])
        assert evs[-1][1] == "done" and evs[-1][2]["metrics"]["method"] == "agent"
        batches = [d for _, k, d in evs if k == "strokes"]
        steps = [d for d in batches if not d["replace"]]
        done = [d["done"] for d in steps]
        assert len(done) >= 2 and done == sorted(set(done)) and done[-1] == 12
        assert batches[-1]["replace"] and batches[-1]["done"] == 12 and batches.index(batches[-1]) == len(steps)
        p = Painting.from_json((await c.get(evs[-1][2]["results"]["json"])).json())
        assert torch.allclose(torch.tensor(batches[-1]["strokes"]), p.strokes, atol=1e-4)
        live = torch.tensor([s for d in steps for s in d["strokes"]])
        n_kept = 12 - round(0.3 * 12)  # --repaint 0.3
        assert all(any(torch.allclose(p.strokes[i, :10], s, atol=1e-4) for s in live[:, :10]) for i in range(n_kept))
        # refine: the agent's strokes, then all of them again after the joint optimisation.
        r = await submit(c, strokes=10, size=40, method="refine")
        evs = await events(c, r.json()["id"])
        batches = [d for _, k, d in evs if k == "strokes"]
        assert evs[-1][1] == "done" and batches[-1]["replace"] and len(batches[-1]["strokes"]) == 10
        # auto with a shape the agent does not paint: stroke optimisation, not an error.
        r = await submit(c, strokes=6, size=32, method="auto", shape="circle")
        assert r.json()["options"]["method"] == "optimize"
        assert (await events(c, r.json()["id"]))[-1][1] == "done"
        r = await submit(c, strokes=6, size=32, method="agent", shape="triangle")
        assert r.status_code == 422 and "paints bezier strokes" in r.json()["error"]

    run(fast(workers=1, agent=str(tiny_actor)), go)


def test_resume_events_after_last_event_id():
    async def go(c, app):
        r = await submit(c, **SMALL)
        jid = r.json()["id"]
        full = await events(c, jid)
        tail = await events(c, jid, headers={"last-event-id": "1"})
        assert tail == full[2:]

    run(fast(workers=1), go)


def test_concurrent_users_are_isolated():
    async def go(c, app):
        a, b = await asyncio.gather(submit(c, png_bytes(40, 30, seed=1), strokes=5, size=40, method="optimize", seed=1),
                                    submit(c, png_bytes(30, 40, seed=2), strokes=7, size=40, method="optimize", seed=2,
                                           shape="circle"))
        ja, jb = a.json(), b.json()
        assert ja["id"] != jb["id"]
        ea, eb = await asyncio.gather(events(c, ja["id"]), events(c, jb["id"]))
        assert ea[-1][2]["metrics"]["strokes"] == 5 and eb[-1][2]["metrics"]["strokes"] == 7
        assert ea[-1][2]["metrics"]["width"] == 40 and eb[-1][2]["metrics"]["height"] == 40
        assert all(ja["id"] in u for u in ea[-1][2]["results"].values())
        assert all(len(row) == 7 for _, k, d in eb if k == "strokes" for row in d["draw"])  # B's circles only

    run(fast(workers=2), go)


# ------------------------------------------------------------------------------------------ limits


def test_refusals_have_clear_messages():
    async def go(c, app):
        async def check(status, needle, **kw):
            r = await submit(c, **kw) if "raw" not in kw else await c.post("/api/paint", **kw["raw"])
            assert r.status_code == status, (kw, r.status_code, r.text)
            msg = r.json()["error"]
            assert needle.lower() in msg.lower(), (needle, msg)
            assert "/tmp" not in msg and tempfile.gettempdir() not in msg  # no server paths in messages
            return msg

        await check(415, "not an image", image=b"this is not an image at all")
        await check(415, "not an image", image=b"<svg xmlns='http://www.w3.org/2000/svg'/>", filename="x.svg")
        await check(415, "cannot be read", image=png_bytes()[:200])  # truncated PNG
        await check(415, "multipart/form-data", raw={"content": b"\x89PNG...", "headers": {"content-type": "image/png"}})
        await check(413, "limit of 0.02 MB", image=os.urandom(30_000))
        await check(413, "megapixels", image=png_bytes(80, 80))  # 6400 px > 5000
        await check(422, "at least 8x8", image=png_bytes(5, 5))
        await check(422, "'strokes' must be between 0 and 40", strokes=-1)
        await check(422, "'strokes' must be between 0 and 40", strokes=41)
        await check(422, "'detail' must be one of", detail="extreme")
        await check(422, "whole number", strokes="lots")
        await check(422, "'shape' must be one of", shape="hexagon")
        await check(422, "'method' must be one of", method="magic")
        await check(422, "unknown medium 'gouache'; choose one of flat, oil", medium="gouache")
        await check(422, "circle strokes have none", medium="oil", shape="circle")
        await check(422, "background", background="plaid")
        await check(422, "'size' must be between 16 and 64", size=65)
        await check(422, "palette", palette="#12345g")
        await check(422, "unknown option 'colour'", colour="red")
        await check(422, "field named 'image'", raw={"data": {"strokes": "5"}, "files": {"other": ("a.png", png_bytes())}})
        if not app.state.agent["available"]:
            await check(422, "needs a trained agent", method="agent")
        r = await c.post("/api/paint", files={"image": ("x.png", png_bytes())}, headers={"origin": "http://evil.example"})
        assert r.status_code == 403
        assert (await c.get("/api/paint")).status_code == 405
        assert (await c.get("/api/health")).json()["jobs"] == 0  # nothing was queued

    run(fast(workers=1, max_upload_mb=0.02, max_pixels=5000, max_strokes=40, max_size=64), go)


def test_uploads_never_touch_the_filesystem_by_name(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # private temp files go here, and go away

    async def go(c, app):
        r = await submit(c, png_bytes(), filename="../../../../tmp/evil.png", **SMALL)
        assert r.status_code == 202
        assert (await events(c, r.json()["id"]))[-1][1] == "done"
        assert not os.path.exists("/tmp/evil.png")
        assert list(tmp_path.iterdir()) == []  # the decoded upload's temp file is gone

    run(fast(workers=1), go)


# ------------------------------------------------------------------------------------------ queue / cancel


@pytest.fixture
def blocking_painter(monkeypatch):
    """A stand-in painter that emits a stroke every 20 ms until released (deterministic queue tests)."""
    release = threading.Event()

    def paint(image, cfg, on_strokes=None, **kw):
        rng = np.random.default_rng(0)
        done = []
        while not (release.is_set() and done) and len(done) < 10_000:
            s = rng.uniform(0.05, 0.95, 13).tolist()
            done.append(s)
            on_strokes({"strokes": [s], "frames": [[0.0, 0.0, 32.0]], "clips": None, "done": len(done),
                        "total": cfg.strokes, "width": cfg.width, "height": cfg.height, "shape": cfg.shape,
                        "native": 32.0, "background": cfg.background, "replace": False})
            time.sleep(0.02)
        p = Painting(cfg.shape, cfg.width, cfg.height, torch.tensor(done), torch.tensor([[0.0, 0.0, 32.0]] * len(done)))
        p.metrics = {"strokes": len(done), "method": "stub", "psnr": 0.0, "ssim": 0.0, "seconds": 0.0}
        return p

    monkeypatch.setattr(brushwork.painter.painter, "paint", paint)
    yield release
    release.set()


def test_queue_limit_and_cancel(blocking_painter):
    async def go(c, app):
        r1 = await submit(c, **SMALL)
        assert r1.status_code == 202
        j1 = r1.json()["id"]
        await wait_state(c, j1, ("running",))
        r2 = await submit(c, **SMALL)
        assert r2.status_code == 202  # waits in the queue
        j2 = r2.json()["id"]
        r3 = await submit(c, **SMALL)
        assert r3.status_code == 429 and "queue is full" in r3.json()["error"]
        h = (await c.get("/api/health")).json()
        assert (h["queued"], h["running"]) == (1, 1)
        # Cancelling a queued job is immediate; cancelling a running one stops its thread.
        assert (await c.post(f"/api/jobs/{j2}/cancel")).json()["state"] == "cancelled"
        assert (await c.post(f"/api/jobs/{j1}/cancel")).json()["state"] == "cancelling"
        s1 = await wait_state(c, j1, ("cancelled", "done", "error"), timeout=5)
        assert s1["state"] == "cancelled"
        e1 = await events(c, j1)
        assert e1[-1][1] == "cancelled" and e1[-1][2]["done"] >= 1
        e2 = await events(c, j2)
        assert [k for _, k, _ in e2] == ["state", "cancelled"]
        assert (await c.get(f"/api/jobs/{j1}/result.png")).status_code == 409
        assert (await c.post(f"/api/jobs/{UUID0}/cancel")).status_code == 404
        assert (await c.post(f"/api/jobs/{j1}/cancel", headers={"origin": "http://evil.example"})).status_code == 403
        # The queue has room again.
        r4 = await submit(c, **SMALL)
        assert r4.status_code == 202
        blocking_painter.set()
        assert (await events(c, r4.json()["id"]))[-1][1] == "done"

    run(fast(workers=1, max_queue=1), go)


def test_cancel_stops_a_real_painting_promptly():
    """Default optimisation settings (tens of seconds for this painting): cancel must stop it inside
    the current Adam iteration, not at the end of a stage."""
    async def go(c, app):
        r = await submit(c, png_bytes(64, 64), strokes=300, size=64, method="optimize")
        jid = r.json()["id"]
        await wait_state(c, jid, ("running",))
        await asyncio.sleep(0.3)
        t0 = time.time()
        assert (await c.post(f"/api/jobs/{jid}/cancel")).json()["state"] == "cancelling"
        st = await wait_state(c, jid, ("cancelled", "done", "error"), timeout=10)
        took = time.time() - t0
        assert st["state"] == "cancelled", st
        assert took < 3.0, f"cancel took {took:.2f} s"
        # The worker is free again at once.
        assert (await c.get("/api/health")).json()["running"] == 0

    run(fast(workers=1, optimize_iters=40), go)


def test_time_limit_stops_a_painting():
    async def go(c, app):
        r = await submit(c, png_bytes(64, 64), strokes=300, size=64, method="optimize")
        jid = r.json()["id"]
        evs = await events(c, jid)
        assert evs[-1][1] == "cancelled" and "limit of 0.5 s" in evs[-1][2]["message"]

    run(fast(workers=1, max_seconds=0.5, optimize_iters=40), go)


def test_painting_errors_are_reported(monkeypatch):
    def broken(image, cfg, on_strokes=None, **kw):
        raise RuntimeError("the brush broke")

    monkeypatch.setattr(brushwork.painter.painter, "paint", broken)

    async def go(c, app):
        r = await submit(c, **SMALL)
        evs = await events(c, r.json()["id"])
        assert evs[-1][1] == "error" and evs[-1][2]["message"] == "the brush broke"
        r2 = await c.get(f"/api/jobs/{r.json()['id']}/result.svg")
        assert r2.status_code == 409 and "the brush broke" in r2.json()["error"]

    run(fast(workers=1), go)


def test_finished_jobs_expire():
    async def go(c, app):
        r = await submit(c, **SMALL)
        jid = r.json()["id"]
        assert (await events(c, jid))[-1][1] == "done"
        assert (await c.get(f"/api/jobs/{jid}/result.json")).status_code == 200
        await asyncio.sleep(0.5)
        r = await c.get(f"/api/jobs/{jid}")
        assert r.status_code == 404 and "expired" in r.json()["error"]
        assert (await c.get(f"/api/jobs/{jid}/result.png")).status_code == 404

    run(fast(workers=1, job_ttl=0.3), go)


# ------------------------------------------------------------------------------------------ command line


def test_serve_command_and_lazy_imports(capsys):
    from brushwork import cli

    with pytest.raises(SystemExit) as e:
        cli.main(["serve", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--host", "--port", "--max-queue", "--workers", "--max-upload-mb", "--max-pixels", "--max-strokes"):
        assert flag in out
    # `import brushwork` (and the serve command's flags) never import the web framework.
    code = ("import sys, brushwork, brushwork.cli, brushwork.server, brushwork.painter; "
            "bad = [m for m in ('starlette', 'uvicorn', 'multipart', 'httpx') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(ValueError, match="--workers"):
        Args(workers=0).check()
    with pytest.raises(ValueError, match="--port"):
        Args(port=70000).check()
