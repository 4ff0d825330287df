"""The lean session against a real HTTP server on 127.0.0.1: plain calls take the short path and still
send what was asked; anything else takes requests' full path."""

from __future__ import annotations

import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from channels.transport import new_session, request_was_sent


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/drop":  # read the request, never answer
            self.close_connection = True
            return
        if self.path == "/slow":
            time.sleep(1.0)
        if self.path == "/idle-close":  # answer as keep-alive, then close the connection anyway
            self.close_connection = True
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


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client gave up on /slow: writing its answer fails, as intended


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), _Echo)
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
    with new_session(2) as session, pytest.raises(requests.ConnectionError) as raised:
        session.post("http://127.0.0.1:9/none", json={}, timeout=2)
    assert not request_was_sent(raised.value)  # never left: safe to send again


def test_a_connection_the_server_closed_while_idle_is_not_reused(echo: str) -> None:
    with new_session(2) as session:
        assert session.post(f"{echo}/idle-close", json={"n": 1}, timeout=5).status_code == 207
        time.sleep(0.1)  # the server's FIN arrives
        # Writing on the closed socket would lose this request (and make it ambiguous).
        assert session.post(f"{echo}/again", json={"n": 2}, timeout=5).json()["path"] == "/again"


def test_a_lost_answer_is_an_error_that_says_the_request_left(echo: str) -> None:
    with new_session(2) as session:
        with pytest.raises(requests.ConnectionError) as raised:
            session.post(f"{echo}/drop", json={}, timeout=5)
        assert request_was_sent(raised.value)
        with pytest.raises(requests.ReadTimeout) as raised:
            session.post(f"{echo}/slow", json={}, timeout=0.2)
        assert request_was_sent(raised.value)
        assert session.post(f"{echo}/after", json={}, timeout=5).json()["path"] == "/after"


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no CA signed."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_https_verifies_the_certificate_before_anything_is_sent(tmp_path: Path) -> None:
    """An https URL is verified against requests' CA bundle: an unknown certificate fails the connection,
    which counts as never sent."""
    cert_path, key_path = _self_signed(tmp_path)
    server = _Server(("127.0.0.1", 0), _Echo)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with new_session(2) as session, pytest.raises(requests.exceptions.SSLError) as raised:
            session.post(f"https://127.0.0.1:{server.server_address[1]}/v1", json={}, timeout=5)
        assert not request_was_sent(raised.value)
    finally:
        server.shutdown()
