"""Start the web app: paint in the browser and watch the strokes arrive.

    brushwork serve                       # http://127.0.0.1:8000
    brushwork serve --host 0.0.0.0 --port 8080 --workers 2 --max-queue 16

The page uploads an image, a worker thread paints it, and every batch of strokes is streamed to the
page (server-sent events) and drawn on a canvas as it arrives; afterwards the painting can be
downloaded as PNG, SVG, JSON, GIF or MP4 (generated on demand from the painting held in memory).
Routes and limits: docs/web.md.  Needs the ``web`` extra: ``pip install 'brushwork[web]'``.
"""

from __future__ import annotations

from dataclasses import dataclass

WEB_EXTRA_HINT = "the web app needs its extra packages: pip install 'brushwork[web]'"


@dataclass
class Args:
    """Start the brushwork web app (paint in the browser, watch the strokes arrive)."""

    host: str = "127.0.0.1"  # interface to listen on (0.0.0.0: every interface, anyone on the network can paint)
    port: int = 8000  # TCP port
    workers: int = 2  # paintings painted at the same time (worker threads)
    max_queue: int = 8  # paintings that may wait for a worker; more are refused (HTTP 429)
    max_upload_mb: float = 20.0  # largest accepted upload in MB (HTTP 413 above)
    max_pixels: int = 25_000_000  # largest accepted image, width x height, checked before decoding (HTTP 413 above)
    # largest stroke budget a user may ask for (the CLI's own default reaches 8,000: 1,024 px, --detail fine)
    max_strokes: int = 8000
    max_size: int = 1024  # largest output side in px a user may ask for
    max_seconds: float = 600.0  # a painting running longer than this is stopped
    job_ttl: float = 1800.0  # seconds a finished painting stays downloadable
    max_jobs: int = 100  # finished paintings kept in memory at most (the oldest are dropped first)
    threads: int = 0  # torch threads per painting (0 = CPU cores / workers)
    work: int = 256  # working resolution (long side, px) of stroke optimisation / refinement: lower is faster, coarser
    optimize_iters: int = 24  # Adam iterations per stage of the optimize method (the final joint pass: half): lower is faster
    agent: str = "photo"  # agent for the agent / refine methods: shipped name or actor .safetensors (server-side only)
    device: str = "auto"  # auto, cpu, cuda, cuda:1, ...
    log_level: str = "info"  # uvicorn log level: critical, error, warning, info, debug

    def check(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"--port must be between 0 and 65535, got {self.port}")
        for name in ("workers", "max_strokes", "max_size", "max_pixels", "max_jobs", "work", "optimize_iters"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        for name in ("max_queue", "threads"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        for name in ("max_upload_mb", "max_seconds", "job_ttl"):
            if not getattr(self, name) > 0:
                raise ValueError(f"--{name.replace('_', '-')} must be > 0, got {getattr(self, name)}")
        if self.max_size < 16:
            raise ValueError(f"--max-size must be at least 16 px, got {self.max_size}")


Settings = Args  # create_app(settings) takes the same fields as the command's flags


def create_app(settings: Args | None = None):
    """The Starlette application (an ASGI app) for ``settings``; its `JobManager` is ``app.state.jobs``."""
    from .app import build_app

    return build_app(settings or Args())


def main(args: Args) -> int:
    args.check()
    try:
        import uvicorn

        app = create_app(args)  # imports starlette
    except ImportError as e:
        raise RuntimeError(f"{WEB_EXTRA_HINT} ({e})") from None
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "") else ("[::1]" if args.host == "::" else args.host)
    shown = f"[{shown}]" if ":" in shown and not shown.startswith("[") else shown
    print(f"brushwork serve: http://{shown}:{args.port}/  ({args.workers} worker(s), queue {args.max_queue}; Ctrl+C stops)",
          flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=args.log_level == "debug",
                timeout_graceful_shutdown=3)
    return 0
