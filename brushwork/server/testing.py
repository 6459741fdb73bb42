"""Run the web app on a real loopback socket inside this process (tests, benchmarks, screenshots).

    with serve_in_thread(create_app(Args(workers=2))) as url:
        httpx.get(url + "/api/health")
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager


@contextmanager
def serve_in_thread(app, host: str = "127.0.0.1", timeout: float = 20.0, log_level: str = "warning"):
    """Serve ``app`` with uvicorn on a free port of ``host`` in a background thread; yields the base
    URL (``http://127.0.0.1:PORT``) once it accepts connections, and shuts it down on exit."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="on",
                            timeout_graceful_shutdown=2, backlog=256)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.time() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn stopped while starting")
        if time.time() > deadline:
            raise RuntimeError(f"uvicorn did not start within {timeout:g} s")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout + 5)
        sock.close()
