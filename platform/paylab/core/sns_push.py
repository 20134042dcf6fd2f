"""SNS HTTP(S) push endpoint: signature check, subscription confirmation, then the handler.

    app = create_app("notification", [sns_router(handle)], title=...)   # POST /internal/sns

SNS signs every message (SignatureVersion 1: SHA1, 2: SHA256, RSA PKCS#1 v1.5) with the
certificate at SigningCertURL. The certificate is fetched only from a host we trust (the
configured AWS endpoint, i.e. LocalStack, or `sns.<region>.amazonaws.com` over HTTPS) and
cached. Answers: 2xx when handled or confirmed; 4xx for a bad body, a bad signature or a topic
we do not consume (SNS does not retry those); 5xx only when the handler failed or SNS could
not be reached, so SNS retries. Raw message delivery must be off: the signature covers the
JSON notification, and its `Message` is the Envelope.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from paylab.core.aws import client
from paylab.core.consumer import Handler, describe
from paylab.core.events import Envelope
from paylab.core.problems import problem_response
from paylab.core.settings import Settings, get_settings
from paylab.core.stack_outputs import stack_outputs

log = structlog.get_logger("paylab.sns_push")

# The fields SNS signs, in this order, for each message type.
_SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_SIGNED_FIELDS["UnsubscribeConfirmation"] = _SIGNED_FIELDS["SubscriptionConfirmation"]
_REQUIRED = ("Type", "MessageId", "TopicArn", "Timestamp", "Signature", "SigningCertURL")
_DIGESTS: dict[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
MAX_BODY_BYTES = 512 * 1024  # SNS messages are at most 256 KiB, plus the JSON around them
_TOPIC_OUTPUTS = ("PaymentEventsTopicArn", "WalletEventsTopicArn", "MerchantEventsTopicArn")


class SignatureError(Exception):
    """The message is not signed by SNS as it claims (or its certificate is not trusted)."""


class CertificateUnavailable(Exception):
    """A trusted certificate URL could not be fetched right now (worth a retry)."""


def string_to_sign(message: dict[str, Any]) -> bytes:
    """The canonical text SNS signs: `name\\nvalue\\n` for each present signed field."""
    fields = _SIGNED_FIELDS.get(str(message.get("Type")))
    if fields is None:
        raise SignatureError(f"unknown message Type {message.get('Type')!r}")
    return "".join(f"{f}\n{message[f]}\n" for f in fields if f in message).encode()


class CertificateStore:
    """Signing certificates by URL: fetched once, only from trusted hosts."""

    def __init__(
        self, settings: Settings | None = None, fetch: Callable[[str], bytes] | None = None
    ) -> None:
        self._settings = settings
        self._fetch = fetch or _http_fetch
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._lock = threading.Lock()

    def trusted(self, url: str) -> bool:
        """True for SNS's own HTTPS host in our region or the configured AWS endpoint."""
        settings = self._settings or get_settings()
        parts = urlsplit(url)
        if parts.username or parts.password or not parts.path.endswith(".pem"):
            return False
        if parts.scheme == "https" and parts.hostname == f"sns.{settings.region}.amazonaws.com":
            return True
        endpoint = settings.endpoint_url()
        if endpoint is None:
            return False
        ours = urlsplit(endpoint)
        return (parts.scheme, parts.hostname, parts.port) == (
            ours.scheme,
            ours.hostname,
            ours.port,
        )

    def public_key(self, url: str) -> rsa.RSAPublicKey:
        """The RSA key of the certificate at `url`; SignatureError when it is not trusted."""
        with self._lock:
            if url in self._keys:
                return self._keys[url]
        if not self.trusted(url):
            raise SignatureError(f"untrusted SigningCertURL {url!r}")
        try:
            pem = self._fetch(url)
        except httpx.HTTPError as exc:
            raise CertificateUnavailable(f"cannot fetch {url}: {exc}") from exc
        try:
            key = x509.load_pem_x509_certificate(pem).public_key()
        except ValueError as exc:
            raise SignatureError(f"{url} is not a PEM certificate") from exc
        if not isinstance(key, rsa.RSAPublicKey):
            raise SignatureError(f"{url} does not hold an RSA key")
        with self._lock:
            self._keys[url] = key
        return key


def _http_fetch(url: str) -> bytes:
    response = httpx.get(url, timeout=5.0, follow_redirects=False)
    response.raise_for_status()
    return response.content


_default_store = CertificateStore()


def verify(message: dict[str, Any], certificates: CertificateStore | None = None) -> None:
    """Raise SignatureError unless SNS signed `message` (SignatureVersion 1 or 2)."""
    missing = [f for f in _REQUIRED if not isinstance(message.get(f), str)]
    if missing:
        raise SignatureError(f"missing fields: {', '.join(missing)}")
    digest = _DIGESTS.get(str(message.get("SignatureVersion")))
    if digest is None:
        raise SignatureError(f"unsupported SignatureVersion {message.get('SignatureVersion')!r}")
    key = (certificates or _default_store).public_key(message["SigningCertURL"])
    try:
        signature = base64.b64decode(message["Signature"], validate=True)
        key.verify(signature, string_to_sign(message), padding.PKCS1v15(), digest())
    except (InvalidSignature, binascii.Error) as exc:
        raise SignatureError("the signature does not match the message") from exc


def stack_topics() -> set[str]:
    """The event topics of the deployed stack: the only ones a service accepts by default."""
    outputs = stack_outputs()
    return {outputs[key] for key in _TOPIC_OUTPUTS if key in outputs}


def sns_router(
    handler: Handler,
    *,
    path: str = "/internal/sns",
    topics: Callable[[], Collection[str]] = stack_topics,
    certificates: CertificateStore | None = None,
    sns: Any = None,
) -> APIRouter:
    """A router that takes SNS pushes at `path` and hands each Envelope to `handler`."""
    router = APIRouter()
    state: dict[str, Any] = {"sns": sns}

    def confirm(message: dict[str, Any]) -> None:
        # ConfirmSubscription through our client, not a GET of SubscribeURL: no URL from the
        # request body is ever fetched.
        state["sns"] = state["sns"] or client("sns")
        state["sns"].confirm_subscription(TopicArn=message["TopicArn"], Token=message["Token"])

    @router.post(path, include_in_schema=False)
    async def receive(request: Request) -> Response:
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return problem_response(413, "payload-too-large", "The SNS message is too large.")
        try:
            message = json.loads(raw)
        except ValueError:
            return problem_response(400, "malformed-json", "The body is not an SNS message.")
        if not isinstance(message, dict):
            return problem_response(400, "not-sns", "The body is not an SNS message.")
        try:
            await run_in_threadpool(verify, message, certificates)
        except SignatureError as exc:
            log.warning("sns.bad_signature", error=str(exc))
            return problem_response(403, "bad-signature", f"Rejected: {exc}.", title="Forbidden")
        except CertificateUnavailable as exc:
            return problem_response(503, "certificate-unavailable", str(exc))
        if message["TopicArn"] not in await run_in_threadpool(topics):
            return problem_response(
                403, "unknown-topic", "This endpoint does not consume that topic."
            )
        kind = message["Type"]
        if kind == "SubscriptionConfirmation":
            if not isinstance(message.get("Token"), str):
                return problem_response(400, "no-token", "The confirmation carries no Token.")
            try:
                await run_in_threadpool(confirm, message)
            except Exception as exc:  # SNS unreachable: SNS will send the confirmation again
                log.warning("sns.confirm_failed", topic=message["TopicArn"], error=str(exc))
                return problem_response(503, "confirm-failed", "Could not confirm; try again.")
            log.info("sns.subscription_confirmed", topic=message["TopicArn"])
            return Response(status_code=204)
        if kind != "Notification":
            return Response(status_code=204)  # UnsubscribeConfirmation: nothing to do
        try:
            envelope = Envelope.model_validate_json(str(message.get("Message", "")))
        except ValidationError as exc:
            log.warning("sns.not_an_envelope", message_id=message["MessageId"], error=describe(exc))
            return problem_response(422, "not-an-envelope", "The Message is not a Paylab event.")
        try:
            await run_in_threadpool(handler, envelope)
        except Exception as exc:  # the handler's failure: 5xx so that SNS delivers it again
            log.warning("sns.handler_failed", event_id=envelope.id, error=describe(exc))
            return problem_response(503, "handler-failed", "The event could not be handled yet.")
        return Response(status_code=204)

    return router
