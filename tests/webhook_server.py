"""A webhook on 127.0.0.1 for the sending tests: a tiny http.server in a thread that keeps
every request it gets and answers as told (Slack answers `ok`)."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Hook:
    """The running server: its base URL and what it received."""

    base: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    body: bytes = b"ok"
    delay: float = 0.0  # seconds to wait before answering (a server that hangs)

    def url(self, path: str = "/services/T0TEST0001/B0TEST0002/s3cr3tT0kenVa1ue") -> str:
        return self.base + path

    @property
    def payloads(self) -> list[Any]:
        return [json.loads(r["body"]) for r in self.requests]


@contextmanager
def serve(**settings: Any) -> Iterator[Hook]:
    hook = Hook(base="", **settings)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            size = int(self.headers.get("Content-Length") or 0)
            hook.requests.append({
                "path": self.path, "headers": dict(self.headers.items()),
                "body": self.rfile.read(size).decode("utf-8"),
            })
            if hook.delay:
                time.sleep(hook.delay)
            self.send_response(hook.status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(hook.body)))
            self.end_headers()
            self.wfile.write(hook.body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


def dead_url() -> str:
    """A URL on this machine where nothing listens (a port taken, then let go)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/services/T0DEAD0001/B0DEAD0002/deadT0kenVa1ue"
