"""Serve a :class:`PolygonSimulator` over HTTP/1.1 on loopback (stdlib ``ThreadingHTTPServer``).

Keep-alive connections, one thread per connection, the whole response written with one
``sendall``. ``start_in_thread`` runs a server in a daemon thread for tests::

    server, base_url = start_in_thread(port=0)          # a fresh simulator, any free port
    httpx.get(f"{base_url}/v3/reference/tickers?ticker=AAPL")
    server.simulator.faults.fail_next(1, status=503)    # same process: program the faults directly
    server.close()

A simulated connection reset closes the socket with ``SO_LINGER`` 0 (the client sees a reset or
"server disconnected without sending a response"). Request lines are not logged (they could
carry an ``apiKey``); ``verbose`` logs method and path only.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from enrichment_pipeline.simulator.app import PolygonSimulator, SimulatedDisconnect

__all__ = ["SimulatorHTTPServer", "start_in_thread"]

_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "PolygonSimulator/1.0"
    disable_nagle_algorithm = True
    server: SimulatorHTTPServer

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET  # noqa: N815

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
        try:
            request = httpx.Request(self.command, f"http://{host}{self.path}", headers=headers, content=body)
        except (httpx.InvalidURL, ValueError):
            self._write(400, [("Content-Type", "application/json")], b'{"status":"ERROR","error":"bad request line"}')
            return
        try:
            response = self.server.simulator.handle_http(request)
        except SimulatedDisconnect:
            self._drop()
            return
        raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]  # original case
        self._write(response.status_code, raw, response.content)

    def _write(self, status: int, headers: list[tuple[str, str]], content: bytes) -> None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
        lines = [f"HTTP/1.1 {status} {reason}"]
        for key, value in headers:
            if key.lower() not in _HOP_BY_HOP:
                lines.append(f"{key}: {value}")
        lines.append(f"Content-Length: {len(content)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head if self.command == "HEAD" else head + content)

    def _drop(self) -> None:
        """Close the connection abruptly without a response."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        if self.server.verbose:
            path = self.path.split("?", 1)[0]  # never the query: it may hold apiKey
            sys.stderr.write(f"[polygon-simulator] {self.command} {path} -> {args[1] if len(args) > 1 else ''}\n")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.server.verbose:
            self.log_message("%s %s", "", code)


class SimulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], simulator: PolygonSimulator | None = None, verbose: bool = False):
        self.simulator = simulator if simulator is not None else PolygonSimulator()
        self.verbose = verbose
        super().__init__(address, _Handler)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        """Stop serving (if serving in a thread) and release the socket."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()

    def __enter__(self) -> SimulatorHTTPServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_in_thread(
    port: int = 0,
    host: str = "127.0.0.1",
    simulator: PolygonSimulator | None = None,
    verbose: bool = False,
    **simulator_kwargs: object,
) -> tuple[SimulatorHTTPServer, str]:
    """Serve ``simulator`` (or a new ``PolygonSimulator(**simulator_kwargs)``) in a daemon thread.

    Returns ``(server, base_url)``; ``server.simulator`` is the simulator, ``server.close()`` stops it.
    """
    if simulator is None:
        simulator = PolygonSimulator(**simulator_kwargs)  # type: ignore[arg-type]
    elif simulator_kwargs:
        raise TypeError("pass either a simulator or keyword arguments for a new one, not both")
    server = SimulatorHTTPServer((host, port), simulator, verbose=verbose)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="polygon-simulator", daemon=True)
    server._thread = thread
    thread.start()
    return server, server.base_url
