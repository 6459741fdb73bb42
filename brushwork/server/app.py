"""The web app's routes (Starlette).  Every route is listed in `build_app`; nothing else is served.

GET  /                                  the page (index.html, app.js, app.css: bundled, no CDN)
GET  /api/health                        liveness + queue counters
GET  /api/config                        limits and choices for the page's form
POST /api/paint                         multipart: image file + options -> 202 {id, events, ...}
GET  /api/jobs/{id}                     the job's state
GET  /api/jobs/{id}/events              server-sent events: state, strokes..., then done / error / cancelled
POST /api/jobs/{id}/cancel              stop a queued or running painting
GET  /api/jobs/{id}/result.{fmt}        png, svg, json, gif, mp4 (made on demand, then cached)

Uploads are read into memory (bounded), decoded from a private temporary file that is removed at
once, and held as pixels; no client-given name or path is ever used on the filesystem.  Job ids are
random uuid4s.  Errors are JSON ``{"error": message}`` with the fitting status code.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import tempfile
import warnings
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .. import __version__
from ..io.images import MIN_SIDE, output_size
from ..painter.painter import AUTO_METHOD
from . import Args
from .jobs import FORMATS, TERMINAL, JobManager, QueueFull

STATIC = {  # route -> (file in static/, media type)
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/app.css": ("app.css", "text/css; charset=utf-8"),
    "/favicon.ico": ("favicon.svg", "image/svg+xml"),
}
SHAPES_JS = "/static/shapes.js"  # generated from the shape registry (`shapes_js`)
SECURITY_HEADERS = {
    "content-security-policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
                                "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-resource-policy": "same-origin",
}
OPTION_FIELDS = ("strokes", "shape", "method", "detail", "background", "size", "palette", "seed", "medium")
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the option fields, on top of the image itself
KEEPALIVE_S = 15.0


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


# ------------------------------------------------------------------------------------- middleware


class SecurityHeaders:
    """Pure ASGI middleware (does not buffer streams): adds SECURITY_HEADERS to every response."""

    def __init__(self, app):
        self.app = app
        self.raw = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + self.raw
            await send(message)

        await self.app(scope, receive, send_with_headers)


# ------------------------------------------------------------------------------------- helpers


def agent_status(name: str) -> dict:
    """Whether the server-side agent exists, and the stroke shape it paints (no weights loaded)."""
    from ..agent.policy import describe
    from ..io.weights import WeightsError

    try:
        return {"available": True, "shape": describe(name)["shape"], "name": name}
    except (WeightsError, OSError, ValueError) as e:
        return {"available": False, "shape": None, "name": name, "why": str(e)}


def parse_options(form, s: Args, agent: dict) -> dict:
    """Form fields -> validated PaintConfig overrides plus ``size``; ApiError(422) naming the field."""
    from ..medium import get_medium
    from ..painter.painter import DETAIL_PRESETS, METHODS, PaintConfig, auto_strokes
    from ..stroke import SHAPES
    from ..stroke.canvas import Background

    unknown = sorted(k for k in form.keys() if k not in OPTION_FIELDS and k != "image")
    if unknown:
        raise ApiError(422, f"unknown option {unknown[0]!r}; the options are {', '.join(OPTION_FIELDS)}")

    def text(name: str, default: str) -> str:
        v = form.get(name)
        if v is None or (isinstance(v, str) and v.strip() == ""):
            return default
        if not isinstance(v, str):
            raise ApiError(422, f"option {name!r} must be a plain form field, not a file")
        if len(v) > 2000:
            raise ApiError(422, f"option {name!r} is too long")
        return v.strip()

    def integer(name: str, default: int, lo: int, hi: int) -> int:
        raw = text(name, str(default))
        try:
            v = int(raw)
        except ValueError:
            raise ApiError(422, f"option {name!r} must be a whole number, got {raw[:40]!r}") from None
        if not lo <= v <= hi:
            raise ApiError(422, f"option {name!r} must be between {lo} and {hi}, got {v}")
        return v

    d = PaintConfig()  # the CLI's defaults are the page's
    strokes = integer("strokes", 0, 0, s.max_strokes)  # 0: the CLI's automatic count (auto_strokes)
    detail = text("detail", d.detail)
    if detail not in DETAIL_PRESETS:
        raise ApiError(422, f"option 'detail' must be one of {', '.join(DETAIL_PRESETS)}, got {detail[:40]!r}")
    shape = text("shape", d.shape)
    if shape not in SHAPES:
        raise ApiError(422, f"option 'shape' must be one of {', '.join(SHAPES)}, got {shape[:40]!r}")
    method = text("method", d.method)
    if method not in METHODS:
        raise ApiError(422, f"option 'method' must be one of {', '.join(METHODS)}, got {method[:40]!r}")
    background = text("background", d.background)
    try:
        Background.parse(background)
    except ValueError as e:
        raise ApiError(422, f"option 'background': {e}") from None
    medium = text("medium", d.medium)
    try:
        get_medium(medium).check(shape, background)
    except ValueError as e:
        raise ApiError(422, f"option 'medium': {e}") from None
    size = integer("size", min(512, s.max_size), 16, s.max_size)
    seed = integer("seed", 0, 0, 2**31 - 1)
    palette = [p for p in re.split(r"[\s,;]+", text("palette", "")) if p]
    if len(palette) > 64:
        raise ApiError(422, "option 'palette' takes at most 64 colours")
    for p in palette:
        if not re.fullmatch(r"#?[0-9a-fA-F]{6}", p):
            raise ApiError(422, f"option 'palette': colours are #rrggbb, got {p[:20]!r}")
    palette = ["#" + p.lstrip("#").lower() for p in palette]
    if method in ("agent", "refine"):
        if not agent["available"]:
            raise ApiError(422, f"method {method!r} needs a trained agent, and none is installed on this server; "
                                "use method 'optimize' (or 'auto')")
        if agent["shape"] != shape:
            raise ApiError(422, f"this server's agent paints {agent['shape']} strokes, not {shape}; "
                                "use method 'optimize' for other shapes")
    elif method == "auto":
        method = AUTO_METHOD  # decided now, so the job (and its events) name the method that ran
    if not strokes:  # the long side is ``size`` px, so the automatic count is known now (at most the limit)
        strokes = min(auto_strokes(method, size, size, detail), s.max_strokes)
    return {"strokes": strokes, "shape": shape, "method": method, "detail": detail, "background": background,
            "seed": seed, "palette": palette, "size": size, "medium": medium}


#: The output sizes (long side, px) the page offers.
SIZES = (128, 256, 512, 1024)


def page_defaults(s: Args) -> dict:
    """The page's starting options: the CLI's (`PaintConfig`), strokes 0 = the CLI's automatic count; the
    size (the CLI paints at the input's size) is 512 px or the server's largest if smaller."""
    from ..painter.painter import PaintConfig

    d = PaintConfig()
    return {"strokes": 0, "size": min(512, s.max_size), "shape": d.shape, "method": d.method, "detail": d.detail,
            "background": d.background, "medium": d.medium}


def decode_image(data: bytes, max_pixels: int, background: str) -> np.ndarray:
    """Upload bytes -> uint8 (H, W, 3); ApiError 413 (too many pixels), 415 (not an image), 422."""
    from PIL import Image, UnidentifiedImageError

    from ..io.images import MIN_SIDE, ImageError, load_image
    from ..stroke.canvas import Background

    # Header check from memory first: the pixel limit holds before any pixel is decoded.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
        except Image.DecompressionBombError:
            raise ApiError(413, f"the image has far more pixels than this server's limit of "
                                f"{max_pixels / 1e6:.1f} megapixels") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
            raise ApiError(415, "the upload is not an image this server can read "
                                "(send PNG, JPEG, WebP, GIF, TIFF or BMP)") from None
    if w * h > max_pixels:
        raise ApiError(413, f"the image is {w}x{h} = {w * h / 1e6:.1f} megapixels, over this server's limit of "
                            f"{max_pixels / 1e6:.1f} megapixels; send a smaller image")
    if w < MIN_SIDE or h < MIN_SIDE:
        raise ApiError(422, f"the image is {w}x{h} pixels; at least {MIN_SIDE}x{MIN_SIDE} is needed")
    # Full decode with the project's loader (EXIF, 16-bit, CMYK, animations...): it reads a path, so a
    # private temporary file (mode 0600 in a 0700 folder), removed straight after.
    with tempfile.TemporaryDirectory(prefix="brushwork-upload-") as tmp:
        path = Path(tmp) / "upload"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            loaded = load_image(path, max_pixels=max_pixels)
        except ImageError as e:
            msg = str(e)
            msg = msg[len(str(path)) + 2:] if msg.startswith(str(path) + ": ") else msg.replace(str(path), "upload")
            raise ApiError(415, f"the upload cannot be read as an image: {msg}") from None
    if loaded.alpha is None:
        return loaded.rgb
    bg = Background.parse(background)
    fill = (255, 255, 255) if bg.transparent else tuple(round(c * 255) for c in bg.rgb)
    return loaded.composited(fill)


def shapes_js() -> str:
    """The page's live drawing of every registered shape that has one (`Shape.live_js`):
    ``window.BRUSHWORK_SHAPES = {name: {length, draw}}``, ``length`` being the numbers per stroke
    before an optional clip rectangle.  A new shape file therefore needs no change to the page."""
    import torch

    from ..stroke import N_PARAMS, SHAPES, get_shape

    one = torch.full((1, N_PARAMS), 0.5, dtype=torch.float64)
    frame, native = torch.tensor([[0.0, 0.0, 8.0]], dtype=torch.float64), torch.tensor([8.0], dtype=torch.float64)
    entries = []
    for name in SHAPES:
        shape = get_shape(name)
        if shape.live_js:
            length = shape.live_primitives(one, frame, native).shape[1] + 3  # + R, G, B
            entries.append(f"    {json.dumps(name)}: {{ length: {length}, draw: {shape.live_js.strip()} }},")
    return "\n".join([
        "// Generated by brushwork.server.app.shapes_js from the stroke shapes (brushwork/stroke/).",
        '"use strict";',
        "(function () {",
        "  const rgb = (R, G, B) => `rgb(${R | 0},${G | 0},${B | 0})`;",
        "  const rgba = (R, G, B, a) => `rgba(${R | 0},${G | 0},${B | 0},${Math.max(0, Math.min(1, a))})`;",
        "  window.BRUSHWORK_SHAPES = {",
        *entries,
        "  };",
        "})();",
        "",
    ])


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) more than ``limit`` bytes, by header and while streaming."""
    too_big = ApiError(413, f"the upload is larger than this server's limit of {limit_mb(limit)}")
    cl = request.headers.get("content-length")
    if cl is not None:
        try:
            if int(cl) > limit + FORM_OVERHEAD:
                raise too_big
        except ValueError:
            raise ApiError(400, "bad Content-Length header") from None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit + FORM_OVERHEAD:
            raise too_big
    return bytes(body)


def limit_mb(n: int) -> str:
    return f"{n / 1e6:g} MB"


def sse(kind: str, data: dict, index: int) -> bytes:
    return f"id: {index}\nevent: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


# ------------------------------------------------------------------------------------- the app


def build_app(s: Args) -> Starlette:
    s.check()
    upload_limit = int(s.max_upload_mb * 1e6)
    jobs = JobManager(workers=s.workers, max_queue=s.max_queue, job_ttl=s.job_ttl, max_jobs=s.max_jobs,
                      max_seconds=s.max_seconds, threads=s.threads, device=s.device, agent=s.agent,
                      paint_defaults={"work": s.work, "optimize_iters": s.optimize_iters})
    agent = agent_status(s.agent)
    pkg = resources.files(__package__) / "static"
    static = {route: (pkg.joinpath(name).read_bytes(), media) for route, (name, media) in STATIC.items()}
    static[SHAPES_JS] = (shapes_js().encode(), "text/javascript; charset=utf-8")

    async def page(request: Request) -> Response:
        body, media = static[request.url.path]
        return Response(body, media_type=media, headers={"cache-control": "no-cache"})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__, **jobs.stats()})

    async def config(request: Request) -> Response:
        from ..medium import MEDIA
        from ..painter.painter import DETAIL_PRESETS, METHODS, auto_strokes
        from ..stroke import SHAPES

        return JSONResponse({
            "version": __version__, "shapes": list(SHAPES), "methods": list(METHODS), "formats": list(FORMATS),
            "media": list(MEDIA),
            "agent": {"available": agent["available"], "shape": agent["shape"]},
            "max_strokes": s.max_strokes, "max_size": s.max_size, "max_upload_bytes": upload_limit,
            "max_pixels": s.max_pixels, "max_queue": s.max_queue, "workers": s.workers,
            "defaults": page_defaults(s), "details": list(DETAIL_PRESETS),
            # the automatic stroke count (strokes 0) per method, detail and size, as the CLI picks it
            "auto_strokes": {m: {dt: {str(px): auto_strokes(m, px, px, dt) for px in SIZES if px <= s.max_size}
                                 for dt in DETAIL_PRESETS} for m in METHODS},
        })

    def cross_site(request: Request) -> bool:
        """A browser request sent by another site's page (simple POSTs need no preflight)."""
        origin = request.headers.get("origin")
        if not origin or origin == "null":
            return origin == "null"
        return origin.split("://", 1)[-1].rstrip("/").lower() != request.headers.get("host", "").lower()

    async def submit(request: Request) -> Response:
        if cross_site(request):
            return error(403, "cross-site requests are not accepted")
        ctype = request.headers.get("content-type", "")
        if not ctype.lower().startswith("multipart/form-data"):
            return error(415, "send the image as multipart/form-data with a file field named 'image'")
        if jobs.full():  # refuse before reading and decoding anything
            return error(429, f"the queue is full ({s.max_queue} paintings waiting); try again in a moment")
        try:
            body = await read_body(request, upload_limit)

            async def replay():
                return {"type": "http.request", "body": body, "more_body": False}

            try:
                form = await Request(request.scope, replay).form(max_files=1, max_fields=len(OPTION_FIELDS) + 1,
                                                                 max_part_size=upload_limit + 1)
            except MultiPartException as e:
                raise ApiError(422, f"malformed upload: {e}") from None
            try:
                upload = form.get("image")
                if not isinstance(upload, UploadFile):
                    raise ApiError(422, "no image in the upload: send the file in a field named 'image'")
                opts = parse_options(form, s, agent)
                data = await upload.read(upload_limit + 1)
            finally:
                await form.close()
            if len(data) > upload_limit:
                raise ApiError(413, f"the image is larger than this server's limit of {limit_mb(upload_limit)}")
            if not data:
                raise ApiError(422, "the uploaded image is empty")
            rgb = await run_in_threadpool(decode_image, data, s.max_pixels, opts["background"])
            h, w, size = rgb.shape[0], rgb.shape[1], opts.pop("size")  # the long side becomes ``size`` px
            width, height = output_size(w, h, **({"width": size} if w >= h else {"height": size}), minimum=MIN_SIDE)
            job = jobs.submit(rgb, opts, width, height)
        except ApiError as e:
            return error(e.status, e.message)
        except QueueFull as e:
            return error(429, str(e))
        base = f"/api/jobs/{job.id}"
        return JSONResponse({"id": job.id, "state": job.state, "width": width, "height": height, "options": opts,
                             "events": f"{base}/events", "cancel": f"{base}/cancel", "status": base},
                            status_code=202)

    def find(request: Request):
        job = jobs.get(request.path_params["job_id"])
        if job is None:
            raise HTTPException(404, "no such painting (unknown id, or it expired)")
        return job

    async def status(request: Request) -> Response:
        jobs.sweep()
        return JSONResponse(find(request).summary())

    async def cancel(request: Request) -> Response:
        if cross_site(request):
            return error(403, "cross-site requests are not accepted")
        job = find(request)
        return JSONResponse({"id": job.id, "state": jobs.cancel(job)})

    async def events(request: Request) -> Response:
        job = find(request)
        try:  # a reconnecting EventSource resumes after the last event it saw
            start = int(request.headers.get("last-event-id", "-1")) + 1
        except ValueError:
            start = 0
        start = max(0, start)

        async def stream():
            index = start
            yield b"retry: 2000\n\n"
            while True:
                batch = job.events_since(index)
                for kind, data in batch:
                    yield sse(kind, data, index)
                    index += 1
                    if kind in TERMINAL:
                        return
                if not batch and not await job.wait(index, KEEPALIVE_S):
                    yield b": keep-alive\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache", "x-accel-buffering": "no"})

    async def result(request: Request) -> Response:
        job = find(request)
        fmt = request.path_params["fmt"]
        if fmt not in FORMATS:
            return error(404, f"unknown result format {fmt[:20]!r}; use one of {', '.join(FORMATS)}")
        if job.state != "done":
            return error(409, f"the painting is {job.state}, not done" + (f": {job.error}" if job.error else ""))

        def make() -> bytes:
            with jobs.export_slots:
                return job.result(fmt)

        try:
            data = await run_in_threadpool(make)
        except Exception as e:  # noqa: BLE001  e.g. no video encoder
            return error(500, f"could not make the {fmt.upper()} file: {e}")
        name = f"painting-{job.id[:8]}.{fmt}"
        return Response(data, media_type=FORMATS[fmt],
                        headers={"content-disposition": f'attachment; filename="{name}"',
                                 "cache-control": "private, max-age=3600"})

    async def http_error(request: Request, exc: HTTPException) -> Response:
        return error(exc.status_code, exc.detail if exc.status_code != 405 else "method not allowed on this route")

    @asynccontextmanager
    async def lifespan(app):
        yield
        await asyncio.get_running_loop().run_in_executor(None, jobs.close)

    routes = [Route(path, page, methods=["GET", "HEAD"]) for path in [*STATIC, SHAPES_JS]]
    routes += [
        Route("/api/health", health, methods=["GET"]),
        Route("/api/config", config, methods=["GET"]),
        Route("/api/paint", submit, methods=["POST"]),
        Route("/api/jobs/{job_id}", status, methods=["GET"]),
        Route("/api/jobs/{job_id}/events", events, methods=["GET"]),
        Route("/api/jobs/{job_id}/cancel", cancel, methods=["POST"]),
        Route("/api/jobs/{job_id}/result.{fmt}", result, methods=["GET"]),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)], lifespan=lifespan,
                    exception_handlers={HTTPException: http_error})
    app.state.jobs = jobs
    app.state.settings = s
    app.state.agent = agent
    return app
