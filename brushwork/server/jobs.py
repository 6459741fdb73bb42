"""Painting jobs for the web app: a bounded queue, a pool of worker threads, live events, cancel.

Nothing here knows about HTTP.  `JobManager.submit` takes a decoded image (an RGB array, never a
path) and options; a worker thread paints it with `brushwork.painter.painter.paint`, recording every batch of
strokes as an event.  Readers (the SSE route) wait for new events with `Job.wait` from any asyncio
loop; the painting thread wakes them with ``loop.call_soon_threadsafe``.

Cancelling sets the job's flag; the painting thread checks it through ``paint``'s ``stop`` callback,
which every optimiser asks before each Adam iteration and the agent before each step, and in the
``on_strokes`` callback; so a cancelled painting stops within one iteration, raising `Cancelled` out
of ``paint``.  The same check enforces the per-painting time limit.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import os
import queue
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TERMINAL = ("done", "error", "cancelled")
FORMATS = {  # result format -> (media type, needs the video encoder)
    "png": "image/png",
    "svg": "image/svg+xml",
    "json": "application/json",
    "gif": "image/gif",
    "mp4": "video/mp4",
}


class Cancelled(Exception):
    """Raised inside the painting thread to stop a painting (cancel or time limit)."""


class QueueFull(Exception):
    """The queue holds ``max_queue`` waiting paintings already."""


@dataclass
class Job:
    id: str
    options: dict  # PaintConfig fields (validated by the caller)
    image: np.ndarray | None  # uint8 (H, W, 3); dropped once painted
    width: int
    height: int
    max_seconds: float = 0.0
    state: str = "queued"  # queued, running, done, error, cancelled
    created: float = field(default_factory=time.time)
    started: float = 0.0
    finished: float = 0.0
    strokes_done: int = 0
    painting: object = None  # brushwork.painter.painting.Painting once done
    error: str = ""
    events: list = field(default_factory=list)  # (kind, data) in order; the SSE id is the index
    _cancel: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _waiters: list = field(default_factory=list)  # (loop, asyncio.Event)
    _results: dict = field(default_factory=dict)  # format -> bytes
    _result_lock: threading.Lock = field(default_factory=threading.Lock)

    # --- events ---------------------------------------------------------------------------
    def emit(self, kind: str, data: dict) -> None:
        with self._lock:
            self.events.append((kind, data))
            waiters, self._waiters = self._waiters, []
        for loop, ev in waiters:
            try:
                loop.call_soon_threadsafe(ev.set)
            except RuntimeError:  # that loop is closed: its reader is gone
                pass

    def events_since(self, index: int) -> list:
        with self._lock:
            return self.events[index:]

    async def wait(self, index: int, timeout: float) -> bool:
        """Wait (asyncio) until there are events past ``index``; False on timeout."""
        ev = asyncio.Event()
        with self._lock:
            if len(self.events) > index:
                return True
            self._waiters.append((asyncio.get_running_loop(), ev))
        try:
            await asyncio.wait_for(ev.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters = [w for w in self._waiters if w[1] is not ev]

    # --- cancel / limits ---------------------------------------------------------------------
    @property
    def finished_state(self) -> bool:
        return self.state in TERMINAL

    def check(self) -> None:
        """Called from the painting thread: raise `Cancelled` when cancelled or over time."""
        if self._cancel.is_set():
            raise Cancelled("cancelled")
        if self.max_seconds and self.started and time.time() - self.started > self.max_seconds:
            raise Cancelled(f"stopped: over this server's limit of {self.max_seconds:g} s per painting")

    def summary(self) -> dict:
        out = {"id": self.id, "state": self.state, "done": self.strokes_done,
               "total": self.options.get("strokes", 0), "width": self.width, "height": self.height}
        if self.state == "done" and self.painting is not None:
            out["metrics"] = self.painting.metrics
        if self.error:
            out["error"] = self.error
        return out

    # --- results ---------------------------------------------------------------------------
    def result(self, fmt: str) -> bytes:
        """The finished painting as ``fmt`` (png, svg, json, gif, mp4), generated once on demand."""
        if fmt not in FORMATS:
            raise KeyError(fmt)
        with self._result_lock:
            if fmt not in self._results:
                self._results[fmt] = encode(self.painting, fmt)
            return self._results[fmt]


def encode(painting, fmt: str) -> bytes:
    """Encode a Painting in memory; videos go through a private temporary folder (the encoder needs
    a file), removed before returning."""
    if fmt == "png":
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(painting.render()).save(buf, format="PNG", optimize=False, compress_level=6)
        return buf.getvalue()
    if fmt == "svg":
        from ..painter.export import svg_document

        return svg_document(painting).encode()
    if fmt == "json":
        return json.dumps(painting.to_json(), separators=(",", ":")).encode()
    from ..painter.export import write_video

    with tempfile.TemporaryDirectory(prefix="brushwork-video-") as tmp:  # mode 0700
        path = Path(tmp) / f"painting.{fmt}"
        write_video(painting, path, size=512 if fmt == "gif" else 720)
        return path.read_bytes()


def draw_list(shape_name: str, strokes, frames, native: float, clips=None) -> list:
    """Per-stroke drawing primitives in output pixels for the page's canvas, from the shape's own
    geometry (`Shape.live_primitives`, drawn by its `Shape.live_js`; so the live view matches the
    final render up to antialiasing): the primitives, then R, G, B (0..255), and with clips the clip
    rectangle x0, y0, x1, y1.  Empty for a shape without a live view (the page waits for the PNG).
    """
    import torch

    from ..stroke import COLOR, get_shape

    if not strokes:
        return []
    shape = get_shape(shape_name)
    s = torch.tensor(strokes, dtype=torch.float64)
    f = torch.tensor(frames, dtype=torch.float64)
    nat = torch.full((len(s),), float(native), dtype=torch.float64)
    prim = shape.live_primitives(s, f, nat)
    if prim is None:
        return []
    out = torch.cat([prim, (s[:, COLOR] * 255).round()], 1)
    if clips is not None:
        out = torch.cat([out, torch.tensor(clips, dtype=torch.float64)], 1)
    return [[round(v, 3) for v in row] for row in out.tolist()]


def strokes_event(ev: dict) -> dict:
    """The SSE payload of a painter ``on_strokes`` event: raw strokes (rounded) plus drawing primitives."""
    return {
        "done": ev["done"], "total": ev["total"], "replace": ev["replace"], "native": ev["native"],
        "strokes": [[round(v, 5) for v in s] for s in ev["strokes"]],
        "frames": [[round(v, 3) for v in f] for f in ev["frames"]],
        "clips": None if ev["clips"] is None else [[round(v, 3) for v in c] for c in ev["clips"]],
        "draw": draw_list(ev["shape"], ev["strokes"], ev["frames"], ev["native"], ev["clips"]),
    }


class JobManager:
    """Jobs by id, a FIFO of waiting jobs (at most ``max_queue``), ``workers`` painting threads."""

    def __init__(self, workers: int = 1, max_queue: int = 8, job_ttl: float = 1800.0, max_jobs: int = 100,
                 max_seconds: float = 600.0, threads: int = 0, device: str = "auto", agent: str = "photo",
                 paint_defaults: dict | None = None):
        self.workers = max(1, int(workers))
        self.max_queue = max(0, int(max_queue))
        self.job_ttl = float(job_ttl)
        self.max_jobs = max(1, int(max_jobs))
        self.max_seconds = float(max_seconds)
        self.threads = int(threads)
        self.device = device
        self.agent = agent
        self.paint_defaults = dict(paint_defaults or {})  # server-side PaintConfig fields (work, optimize_iters)
        self.jobs: dict[str, Job] = {}
        self._waiting: list[Job] = []  # queued jobs in order (for positions)
        self._q: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._closed = False
        self.export_slots = threading.BoundedSemaphore(max(1, self.workers))
        self._threads = [threading.Thread(target=self._worker, name=f"brushwork-paint-{i}", daemon=True)
                         for i in range(self.workers)]
        for t in self._threads:
            t.start()

    # --- public API ---------------------------------------------------------------------------
    def stats(self) -> dict:
        with self._lock:
            running = sum(1 for j in self.jobs.values() if j.state == "running")
            return {"queued": len(self._waiting), "running": running, "workers": self.workers,
                    "max_queue": self.max_queue, "jobs": len(self.jobs)}

    def full(self) -> bool:
        with self._lock:
            return self._queue_full()

    def _queue_full(self) -> bool:
        running = sum(1 for j in self.jobs.values() if j.state == "running")
        # A job that will start at once (a worker is free) does not wait in the queue.
        waiting_after = len(self._waiting) + 1 - max(0, self.workers - running)
        return waiting_after > self.max_queue

    def submit(self, image: np.ndarray, options: dict, width: int, height: int) -> Job:
        self.sweep()
        job = Job(id=str(uuid.uuid4()), options=dict(options), image=image, width=width, height=height,
                  max_seconds=self.max_seconds)
        with self._lock:
            if self._closed:
                raise QueueFull("the server is shutting down")
            if self._queue_full():
                raise QueueFull(f"the queue is full ({self.max_queue} paintings waiting); try again in a moment")
            self.jobs[job.id] = job
            self._waiting.append(job)
            position = len(self._waiting)
        job.emit("state", {"state": "queued", "position": position, "width": width, "height": height,
                           "total": options.get("strokes", 0)})
        self._q.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        try:
            key = str(uuid.UUID(job_id))  # only well-formed ids are looked up
        except (ValueError, TypeError, AttributeError):
            return None
        return self.jobs.get(key)

    def cancel(self, job: Job) -> str:
        with self._lock:
            if job.state == "queued":
                job.state = "cancelled"
                job.finished = time.time()
                job.image = None
                if job in self._waiting:
                    self._waiting.remove(job)
                cancelled_now = True
            else:
                cancelled_now = False
        if cancelled_now:
            job.emit("cancelled", {"message": "cancelled before it started", "done": 0})
            self._announce_positions()
            return "cancelled"
        if job.state == "running":
            job._cancel.set()
            return "cancelling"
        return job.state

    def sweep(self) -> None:
        """Forget finished jobs older than ``job_ttl`` and the oldest beyond ``max_jobs``."""
        now = time.time()
        with self._lock:
            done = sorted((j for j in self.jobs.values() if j.finished_state), key=lambda j: j.finished)
            drop = [j for j in done if now - j.finished > self.job_ttl]
            keep = [j for j in done if now - j.finished <= self.job_ttl]
            drop += keep[: max(0, len(keep) - self.max_jobs)]
            for j in drop:
                self.jobs.pop(j.id, None)

    def close(self, timeout: float = 5.0) -> None:
        """Cancel everything and stop the workers."""
        with self._lock:
            self._closed = True
            jobs = list(self.jobs.values())
        for j in jobs:
            if not j.finished_state:
                self.cancel(j)
        for _ in self._threads:
            self._q.put(None)
        deadline = time.time() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.time()))

    # --- workers -------------------------------------------------------------------------------
    def _announce_positions(self) -> None:
        with self._lock:
            waiting = list(self._waiting)
        for i, j in enumerate(waiting):
            j.emit("state", {"state": "queued", "position": i + 1, "width": j.width, "height": j.height,
                             "total": j.options.get("strokes", 0)})

    def _worker(self) -> None:
        import torch

        threads = self.threads or max(1, (os.cpu_count() or 1) // self.workers)
        torch.set_num_threads(threads)
        while True:
            job = self._q.get()
            if job is None:
                return
            with self._lock:
                if job.state != "queued":  # cancelled while waiting
                    continue
                job.state = "running"
                job.started = time.time()
                if job in self._waiting:
                    self._waiting.remove(job)
            self._announce_positions()
            self._run(job)

    def _run(self, job: Job) -> None:
        from ..painter.painter import PaintConfig, paint
        from ..stroke import hex_color
        from ..stroke.canvas import Background

        bg = Background.parse(job.options.get("background", "black"))
        job.emit("state", {"state": "running", "width": job.width, "height": job.height,
                           "total": job.options.get("strokes", 0), "shape": job.options.get("shape"),
                           "background": "transparent" if bg.transparent else
                           hex_color(bg.rgb)})

        sent: list = []  # the strokes streamed so far (to notice a final pass that changed them)

        def on_strokes(ev: dict) -> None:
            job.check()
            job.strokes_done = ev["done"]
            if ev["replace"]:
                sent.clear()
            sent.extend(ev["strokes"])
            job.emit("strokes", strokes_event(ev))
            job.check()

        cfg = PaintConfig(**{**self.paint_defaults, **job.options, "width": job.width, "height": job.height,
                             "quiet": True, "device": self.device, "agent": self.agent})
        try:
            job.check()
            # stop: raises Cancelled itself (with the reason: cancel or the time limit), else False
            painting = paint(job.image, cfg, on_strokes=on_strokes, stop=lambda: job.check() or False)
        except Cancelled as e:
            self._finish(job, "cancelled", str(e))
            return
        except Exception as e:  # noqa: BLE001  the message goes to the user; the server keeps serving
            self._finish(job, "error", _message(e))
            return
        finally:
            job.image = None
        job.painting = painting
        job.strokes_done = len(painting)
        # A last joint pass may have moved every stroke without an event (the optimize method's
        # final refinement): send them all, replacing, so the stream always ends on the painting.
        final = painting.strokes
        if len(sent) != len(final) or not np.allclose(np.asarray(sent, dtype=np.float32), final.numpy(), atol=1e-6):
            clips = None if painting.clips is None else painting.clips.tolist()
            job.emit("strokes", strokes_event({
                "done": len(painting), "total": len(painting), "replace": True, "native": painting.native,
                "strokes": final.tolist(), "frames": painting.frames.tolist(), "clips": clips,
                "shape": painting.shape}))
        self._finish(job, "done")

    def _finish(self, job: Job, state: str, message: str = "") -> None:
        job.state = state
        job.finished = time.time()
        if state == "done":
            m = dict(job.painting.metrics)
            m["queue_seconds"] = round(job.started - job.created, 3)
            m["total_seconds"] = round(job.finished - job.created, 3)
            job.painting.metrics = m
            job.emit("done", {"metrics": m, "done": job.strokes_done,
                              "results": {fmt: f"/api/jobs/{job.id}/result.{fmt}" for fmt in FORMATS}})
        elif state == "cancelled":
            job.error = "" if message == "cancelled" else message
            job.emit("cancelled", {"message": message, "done": job.strokes_done})
        else:
            job.error = message
            job.emit("error", {"message": message, "done": job.strokes_done})


def _message(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if isinstance(e, (ValueError, RuntimeError, OSError)):
        return text
    return f"{type(e).__name__}: {text}"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100]) of a non-empty list."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, math.ceil(q / 100 * len(v)) - 1))
    return v[k]
