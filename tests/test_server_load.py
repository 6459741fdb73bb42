"""A small, bounded load test over real loopback HTTP: 20 users paint at once (real stroke
optimisation, 5 strokes at 32 px with few iterations), each streaming its events and downloading its
PNG, while a monitor keeps asking /api/health.  All must succeed; prints a latency table."""

from __future__ import annotations

import asyncio
import io
import time

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("uvicorn", reason="the web extra is not installed: pip install -e '.[test]'")
import httpx  # noqa: E402

from brushwork.server import Args, create_app  # noqa: E402
from brushwork.server.jobs import percentile  # noqa: E402
from brushwork.server.testing import serve_in_thread  # noqa: E402

USERS = 20
STROKES = 5
SIZE = 32


def image(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    arr = (rng.random((24 + seed % 9, 32 + seed % 7, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


async def one_user(client: httpx.AsyncClient, seed: int) -> dict:
    t0 = time.perf_counter()
    r = await client.post("/api/paint", files={"image": (f"u{seed}.png", image(seed), "image/png")},
                          data={"strokes": str(STROKES), "size": str(SIZE), "method": "optimize", "seed": str(seed)})
    assert r.status_code == 202, r.text
    job = r.json()
    t_submit = time.perf_counter()
    first = None
    last_kind, done = None, None
    async with client.stream("GET", job["events"]) as s:
        assert s.status_code == 200
        kind = None
        async for line in s.aiter_lines():
            if line.startswith("event: "):
                kind = line[7:]
                if kind == "strokes" and first is None:
                    first = time.perf_counter()
            elif line.startswith("data: ") and kind in ("done", "error", "cancelled"):
                last_kind, done = kind, line[6:]
    assert last_kind == "done", (last_kind, done)
    t_done = time.perf_counter()
    png = await client.get(f"/api/jobs/{job['id']}/result.png")
    assert png.status_code == 200
    assert Image.open(io.BytesIO(png.content)).size == (job["width"], job["height"])
    t_end = time.perf_counter()
    return {"submit": t_submit - t0, "first strokes": (first or t_done) - t0, "done": t_done - t0,
            "done + PNG": t_end - t0}


async def monitor(client: httpx.AsyncClient, stop: asyncio.Event, out: list) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        r = await client.get("/api/health")
        assert r.status_code == 200
        out.append(time.perf_counter() - t)
        await asyncio.sleep(0.05)


def test_twenty_concurrent_paints(capsys):
    threads = torch.get_num_threads()
    app = create_app(Args(workers=2, max_queue=USERS, threads=1, work=SIZE, optimize_iters=2))

    async def main(url: str):
        limits = httpx.Limits(max_connections=USERS * 3, max_keepalive_connections=USERS * 3)
        async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
            stop, health = asyncio.Event(), []
            mon = asyncio.create_task(monitor(client, stop, health))
            t0 = time.perf_counter()
            results = await asyncio.gather(*(one_user(client, i) for i in range(USERS)), return_exceptions=True)
            wall = time.perf_counter() - t0
            stop.set()
            await mon
            stats = (await client.get("/api/health")).json()
        return results, wall, health, stats

    try:
        with serve_in_thread(app) as url:
            results, wall, health, stats = asyncio.run(main(url))
    finally:
        torch.set_num_threads(threads)

    failures = [r for r in results if isinstance(r, BaseException)]
    ok = [r for r in results if not isinstance(r, BaseException)]
    rows = [(name, [r[name] for r in ok]) for name in ("submit", "first strokes", "done", "done + PNG")]
    rows.append(("/api/health during load", health))
    lines = [f"\nload test: {USERS} concurrent paints ({STROKES} strokes, {SIZE} px, optimize), 2 workers, loopback",
             f"{'latency (s)':<26}{'p50':>8}{'p95':>8}{'max':>8}{'n':>6}"]
    for name, v in rows:
        if v:
            lines.append(f"{name:<26}{percentile(v, 50):>8.3f}{percentile(v, 95):>8.3f}{max(v):>8.3f}{len(v):>6}")
    lines.append(f"succeeded {len(ok)}/{USERS}; wall {wall:.2f} s; {len(ok) / wall:.2f} paintings/s")
    with capsys.disabled():
        print("\n".join(lines))
    assert not failures, f"{len(failures)} of {USERS} paints failed: {failures[0]!r}"
    assert stats["queued"] == 0 and stats["running"] == 0 and stats["jobs"] == USERS
    assert max(health) < 2.0, "the server stopped answering while painting"
