"""A loopback stand-in for a Qdrant server's REST API, and a TCP proxy that breaks connections.

Neither mocks qdrant-client: the real client talks HTTP over real sockets on 127.0.0.1. The server
answers the few routes the fault tests exercise with JSON shaped like Qdrant's (the collection
info is produced by qdrant-client's own local mode), keeps upserted points by id, and can be told
to answer N requests with an error status or to hang. The proxy sits between client and server
and can reset connections or drop the response of a write the server has already applied.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeQdrant", "Fault", "Proxy", "closed_port", "fake_qdrant", "proxy"]

COLLECTION = "x"


def _collection_info() -> dict[str, Any]:
    from qdrant_client import QdrantClient

    from legalrag.plugin.store import ClientStore, CollectionSpec

    client = QdrantClient(":memory:")
    ClientStore(client).create_collection(COLLECTION, CollectionSpec(dense_size=4, sparse_name=None))
    info: dict[str, Any] = client.get_collection(COLLECTION).model_dump(mode="json", exclude_none=True)
    client.close()
    return info


@dataclass
class Fault:
    """Answer the next ``times`` requests matching ``route`` (``"PUT /collections/x/points"``) badly."""

    route: str
    times: int
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0


class FakeQdrant:
    """The server; ``requests`` lists every ``"METHOD /path"`` it answered (the version probe excluded)."""

    def __init__(self) -> None:
        self.points: dict[str, dict[str, Any]] = {}
        self.writes: list[list[str]] = []  # point ids of each applied upsert
        self.requests: list[str] = []
        self.api_keys: set[str] = set()  # what clients sent in the api-key header
        self.snapshots: list[dict[str, Any]] = []
        self.recovered: list[str] = []  # locations of snapshot recoveries
        self.faults: list[Fault] = []
        self.release = threading.Event()  # ends every hang at teardown
        self._lock = threading.Lock()
        self._info = _collection_info()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.block_on_close = False  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def fail(self, route: str, times: int, status: int = 503, **headers: str) -> None:
        self.faults.append(Fault(route, times, status, {k.replace("_", "-"): v for k, v in headers.items()}))

    def hang(self, route: str, seconds: float, times: int = 1000) -> None:
        self.faults.append(Fault(route, times, hang=seconds))

    def count(self, route: str) -> int:
        return sum(1 for r in self.requests if r == route)

    def start(self) -> FakeQdrant:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def _fault(self, route: str) -> Fault | None:
        with self._lock:
            self.requests.append(route)
            for fault in self.faults:
                if fault.times > 0 and fault.route in ("*", route):
                    fault.times -= 1
                    return fault
        return None

    def answer(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        """The response to one request that no fault intercepted."""
        base = f"/collections/{COLLECTION}"
        if path == "/collections":
            return 200, {"collections": [{"name": COLLECTION}]}
        if path == f"{base}/exists":
            return 200, {"exists": True}
        if method == "GET" and path == base:
            return 200, {**self._info, "points_count": len(self.points)}
        if method == "PUT" and path == f"{base}/points":
            points = json.loads(body)["points"]
            with self._lock:
                self.writes.append([str(p["id"]) for p in points])
                self.points.update({str(p["id"]): p for p in points})
            return 200, {"operation_id": len(self.writes), "status": "completed"}
        if method == "POST" and path == f"{base}/points/count":
            return 200, {"count": len(self.points)}
        if path == f"{base}/snapshots":
            if method == "POST":
                name = f"{COLLECTION}-{len(self.snapshots) + 1}.snapshot"
                created = f"2025-01-{len(self.snapshots) + 1:02d}T00:00:00"
                self.snapshots.append({"name": name, "creation_time": created, "size": 1024, "checksum": "0" * 64})
                return 200, self.snapshots[-1]
            return 200, self.snapshots
        if method == "PUT" and path == f"{base}/snapshots/recover":
            self.recovered.append(json.loads(body)["location"])
            return 200, True
        if re.fullmatch(r"/collections/[^/]+(/exists)?", path):
            return 404, {}
        return 400, {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                path = self.path.split("?", 1)[0]
                if self.headers.get("api-key"):
                    fake.api_keys.add(self.headers["api-key"])
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if path == "/":  # qdrant-client's version probe: never faulted, never counted
                    self._send(200, {"title": "qdrant - vector search engine", "version": "1.20.0"}, raw=True)
                    return
                fault = fake._fault(f"{self.command} {path}")
                if fault is not None and fault.hang:
                    fake.release.wait(fault.hang)
                    self.close_connection = True
                    return
                if fault is not None:
                    self._send(fault.status, {"error": f"fault injected: {fault.status}"}, fault.headers)
                    return
                status, result = fake.answer(self.command, path, body)
                self._send(status, result)

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _serve

            def _send(
                self,
                status: int,
                result: Any,
                headers: dict[str, str] | None = None,
                raw: bool = False,
            ) -> None:
                if raw:
                    document: dict[str, Any] = result
                elif status < 400:
                    document = {"result": result, "status": "ok", "time": 0.0001}
                else:
                    error = result.get("error") if isinstance(result, dict) else None
                    document = {"status": {"error": error or f"status {status}"}, "time": 0.0001}
                data = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


class Proxy:
    """A TCP proxy on 127.0.0.1 to ``upstream_port``.

    ``reset(n)``: the next n connections are closed with a RST at once. ``drop_write_responses(n)``:
    the next n connections whose request starts with ``PUT`` are forwarded, and once the server's
    answer arrives the client's connection is reset instead: the write happened, the client never
    hears it. ``delay``: seconds before any connection is forwarded.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.delay = 0.0
        self.resets = 0
        self.dropped_writes = 0
        self._drop_writes = 0
        self._reset = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def reset(self, times: int) -> None:
        with self._lock:
            self._reset += times

    def drop_write_responses(self, times: int) -> None:
        with self._lock:
            self._drop_writes += times

    def start(self) -> Proxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            self._relay(client)
        except OSError:  # the client gave up (it timed out, or was reset): nothing left to relay
            client.close()

    def _relay(self, client: socket.socket) -> None:
        with self._lock:
            reset = self._reset > 0
            self._reset -= int(reset)
        if reset:
            self.resets += 1
            _rst(client)
            return
        if self.delay and self._stopped.wait(self.delay):
            client.close()
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
        except OSError:
            _rst(client)
            return
        first = client.recv(65536)
        with self._lock:
            drop = first.startswith(b"PUT ") and self._drop_writes > 0
            self._drop_writes -= int(drop)
        upstream.sendall(first)
        if drop:
            _forward_rest(client, upstream)
            upstream.settimeout(10)
            upstream.recv(65536)  # the server has applied the write and answered
            self.dropped_writes += 1
            upstream.close()
            _rst(client)
            return
        _pipe(client, upstream)


def _forward_rest(client: socket.socket, upstream: socket.socket) -> None:
    """Forward what is left of a request body the first ``recv`` did not get."""
    client.settimeout(0.2)
    try:
        while chunk := client.recv(65536):
            upstream.sendall(chunk)
    except (TimeoutError, OSError):
        pass


def _pipe(a: socket.socket, b: socket.socket) -> None:
    def copy(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    other = threading.Thread(target=copy, args=(b, a), daemon=True)
    other.start()
    copy(a, b)
    other.join(timeout=30)
    a.close()
    b.close()


def _rst(sock: socket.socket) -> None:
    # SO_LINGER 0: close sends RST, what a crashed or restarting server looks like to the client
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])


@contextmanager
def fake_qdrant() -> Iterator[FakeQdrant]:
    server = FakeQdrant().start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def proxy(upstream_port: int) -> Iterator[Proxy]:
    started = Proxy(upstream_port).start()
    try:
        yield started
    finally:
        started.stop()
        time.sleep(0)  # let pipe threads notice
