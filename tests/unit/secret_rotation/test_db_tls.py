"""The password rotation Lambda's TLS to Aurora: verify-full against Amazon RDS's CA bundle.

Real handshakes on loopback with certificates made here: the context must accept only a
server whose certificate chains to the bundle and names the host it was asked for.
"""

from __future__ import annotations

import datetime
import http.server
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from paylab.infra.template import load_template
from paylab.lambdas import rotate_postgres
from paylab.lambdas.rotate_base import RotationError
from paylab.lambdas.rotate_postgres import rds_ca_bundle, ssl_context

Issued = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, issuer: Issued | None, *, host: str | None = None) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer[0].subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if host:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256()), key


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _server_context(tmp_path: Path, leaf: Issued) -> ssl.SSLContext:
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    cert_file.write_text(_pem(leaf[0]))
    key_file.write_bytes(
        leaf[1].private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext, hostname: str) -> None:
    """One TLS handshake over loopback; raises what the client's side raised."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def accept() -> None:
            conn, _ = listener.accept()
            try:
                with server.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (ssl.SSLError, OSError):
                pass  # the client refused us: its error is the one the test reads

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            client.wrap_socket(raw, server_hostname=hostname),
        ):
            pass
        thread.join(5)


@pytest.fixture
def rds_ca(monkeypatch: pytest.MonkeyPatch) -> Issued:
    """A CA standing in for Amazon RDS's, served as the bundle the Lambda reads."""
    ca = _certificate("Test RDS Root CA", None)
    monkeypatch.setattr(rotate_postgres, "rds_ca_bundle", lambda: _pem(ca[0]))
    return ca


def test_verify_full_accepts_the_cluster_whose_certificate_chains_to_the_bundle(
    rds_ca: Issued, tmp_path: Path
) -> None:
    host = "paylab.cluster-abc.us-east-1.rds.amazonaws.com"
    client = ssl_context("verify-full")
    assert client is not None and client.verify_mode is ssl.CERT_REQUIRED and client.check_hostname
    _handshake(_server_context(tmp_path, _certificate(host, rds_ca, host=host)), client, host)


def test_verify_full_refuses_another_ca_and_another_host(rds_ca: Issued, tmp_path: Path) -> None:
    host = "paylab.cluster-abc.us-east-1.rds.amazonaws.com"
    client = ssl_context("verify-full")
    assert client is not None
    impostor_ca = _certificate("Someone Else's CA", None)
    impostor = _server_context(tmp_path, _certificate(host, impostor_ca, host=host))
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        _handshake(impostor, client, host)
    genuine = _server_context(tmp_path, _certificate(host, rds_ca, host=host))
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        _handshake(genuine, client, "attacker.example.com")


def test_modes_locally_and_on_aws() -> None:
    """AWS sets verify-full (template.yaml); locally the server has no TLS."""
    assert ssl_context("disable") is None
    for weaker in ("require", "verify-ca", "prefer"):
        with pytest.raises(RotationError, match="verify-full or disable"):
            ssl_context(weaker)
    function = load_template()["Resources"]["RotatePostgresFunction"]["Properties"]
    assert function["Environment"]["Variables"]["PAYLAB_DB_SSL"] == {
        "Fn::If": ["IsAws", "verify-full", "disable"]
    }


class _Answer:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def __enter__(self) -> _Answer:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def read(self, limit: int) -> bytes:
        return self.body[:limit]


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """The bundle's URL answers what the test puts in `answers`; calls are recorded."""
    monkeypatch.setattr(rotate_postgres, "_ca_bundle", {})
    monkeypatch.setenv("PAYLAB_DB_CA_BUNDLE_URL", "https://truststore.example/bundle.pem")
    calls: list[tuple[str, Any]] = []
    return calls


def _fake_urlopen(calls: list[tuple[str, Any]], answer: bytes | OSError) -> Any:
    def urlopen(url: str, timeout: float, context: ssl.SSLContext) -> _Answer:
        calls.append((url, context))
        if isinstance(answer, OSError):
            raise answer
        return _Answer(answer)

    return urlopen


def test_the_bundle_is_read_once_per_runtime_with_the_systems_cas(
    fetched: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    pem = _pem(_certificate("Test RDS Root CA", None)[0])
    monkeypatch.setattr(
        rotate_postgres.urllib.request, "urlopen", _fake_urlopen(fetched, pem.encode())
    )
    assert rds_ca_bundle() == pem
    assert rds_ca_bundle() == pem
    assert [url for url, _ in fetched] == ["https://truststore.example/bundle.pem"]
    context = fetched[0][1]
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (OSError("connection timed out"), "cannot be read from .*connection timed out"),
        (b"<html>Service Unavailable</html>", "did not answer a PEM certificate bundle"),
        (b"\xff\xfe", "cannot be read from"),
    ],
)
def test_an_unusable_bundle_is_a_clear_rotation_error(
    fetched: list[tuple[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    answer: bytes | OSError,
    message: str,
) -> None:
    monkeypatch.setattr(rotate_postgres.urllib.request, "urlopen", _fake_urlopen(fetched, answer))
    with pytest.raises(RotationError, match=message):
        ssl_context("verify-full")


def test_the_bundle_url_must_be_https(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rotate_postgres, "_ca_bundle", {})
    monkeypatch.setenv("PAYLAB_DB_CA_BUNDLE_URL", "http://truststore.example/bundle.pem")
    with pytest.raises(RotationError, match="must be an https URL"):
        rds_ca_bundle()


@pytest.mark.parametrize("trusted", [False, True])
def test_the_bundle_is_fetched_over_https_checked_against_the_systems_cas(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, trusted: bool
) -> None:
    """A server whose certificate the system does not trust is refused, not read; the same
    server is read once its CA is what the system trusts (OpenSSL's SSL_CERT_FILE)."""
    ca = _certificate("Test CA", None)
    leaf = _certificate("127.0.0.1", ca, host="localhost")
    if trusted:
        system_cas = tmp_path / "system-cas.pem"
        system_cas.write_text(_pem(ca[0]))
        monkeypatch.setenv("SSL_CERT_FILE", str(system_cas))
    monkeypatch.setattr(rotate_postgres, "_ca_bundle", {})
    with _https_server(leaf, tmp_path) as port:
        monkeypatch.setenv("PAYLAB_DB_CA_BUNDLE_URL", f"https://localhost:{port}/bundle.pem")
        if trusted:
            assert rds_ca_bundle() == _pem(leaf[0])
        else:
            with pytest.raises(RotationError, match="CERTIFICATE_VERIFY_FAILED"):
                rds_ca_bundle()


@contextmanager
def _https_server(leaf: Issued, tmp_path: Path) -> Iterator[int]:
    class Bundle(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(_pem(leaf[0]).encode())

        def log_message(self, *_: Any) -> None:
            return None

    with http.server.HTTPServer(("127.0.0.1", 0), Bundle) as server:
        context = _server_context(tmp_path, leaf)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server.server_address[1]
        finally:
            server.shutdown()
            thread.join(5)
