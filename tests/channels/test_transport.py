"""The lean session against a real HTTP server on 127.0.0.1: plain calls take the short path and still
send what was asked; anything else takes requests' full path."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from channels.transport import new_session


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        answer = json.dumps(
            {"path": self.path, "body": body.decode(), "headers": {k.lower(): v for k, v in self.headers.items()}}
        ).encode()
        self.send_response(207)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_plain_post_sends_json_headers_and_reads_the_answer(echo: str) -> None:
    with new_session(2) as session:
        response = session.post(f"{echo}/v1/send", json={"이름": "단골"}, headers={"X-Key": "k1"}, timeout=5)
    assert response.status_code == 207
    seen = response.json()
    assert seen["path"] == "/v1/send"
    assert json.loads(seen["body"]) == {"이름": "단골"}
    assert seen["headers"]["x-key"] == "k1"
    assert seen["headers"]["content-type"] == "application/json"
    assert seen["headers"]["user-agent"].startswith("python-requests/")  # session defaults still merged


def test_bytes_body_keeps_its_exact_bytes(echo: str) -> None:
    body = b'{"type":"order.shipped","n":1}'
    with new_session(2) as session:
        seen = session.post(echo, data=body, headers={"Content-Type": "application/json"}, timeout=5).json()
    assert seen["body"].encode() == body
    assert seen["headers"]["content-length"] == str(len(body))


def test_other_arguments_take_the_full_path(echo: str) -> None:
    with new_session(2) as session:
        seen = session.post(echo, params={"q": "1"}, json={}, timeout=5).json()
    assert seen["path"] == "/?q=1"


def test_a_refused_connection_raises_requests_connection_error() -> None:
    with new_session(2) as session, pytest.raises(requests.ConnectionError):
        session.post("http://127.0.0.1:9/none", json={}, timeout=2)
