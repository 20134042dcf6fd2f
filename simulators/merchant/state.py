"""The webhooks that arrived and the merchants whose signatures the receiver can check."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from paylab.core.problems import Problem
from simulators.seeding import SeededRandom

MAX_WEBHOOKS = 10_000
# What ePayco signs, in order, after p_cust_id_cliente and p_key (its docs and every SDK agree).
SIGNED = ("x_ref_payco", "x_transaction_id", "x_amount", "x_currency_code")


def expected_signature(p_cust_id_cliente: str, p_key: str, fields: Mapping[str, str]) -> str:
    """sha256(p_cust_id_cliente^p_key^x_ref_payco^x_transaction_id^x_amount^x_currency_code)."""
    text = "^".join([p_cust_id_cliente, p_key, *(fields[name] for name in SIGNED)])
    return hashlib.sha256(text.encode()).hexdigest()


def check_signature(fields: Mapping[str, str], keys: Mapping[str, str]) -> tuple[bool, str]:
    """(valid, why) for one webhook's fields, given p_key per p_cust_id_cliente."""
    cust = fields.get("x_cust_id_cliente")
    if not cust:
        return False, "no x_cust_id_cliente"
    p_key = keys.get(cust)
    if p_key is None:
        return False, f"merchant {cust} not configured: PUT /_sim/merchants/{cust}"
    missing = [name for name in (*SIGNED, "x_signature") if name not in fields]
    if missing:
        return False, f"missing {', '.join(missing)}"
    expected = expected_signature(cust, p_key, fields)
    if hmac.compare_digest(expected, fields["x_signature"].lower()):
        return True, "ok"
    return False, "x_signature does not match"


def parse_fields(content_type: str, raw: bytes, query: str) -> dict[str, str]:
    """A webhook's fields: a form post (ePayco's default), a JSON object, or a GET's query."""
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        if not raw:
            return dict(parse_qsl(query, keep_blank_values=True))
        if media == "application/x-www-form-urlencoded":
            return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
        if media == "application/json":
            body = json.loads(raw)
            if isinstance(body, dict) and all(isinstance(v, str) for v in body.values()):
                return {str(k): v for k, v in body.items()}
            raise ValueError("a JSON webhook must be an object of strings")
    except (UnicodeDecodeError, ValueError) as exc:
        raise Problem(400, "malformed-webhook", f"The webhook body cannot be read: {exc}.") from exc
    raise Problem(
        415,
        "unsupported-media-type",
        "Send application/x-www-form-urlencoded (or JSON) like ePayco does.",
        title="Unsupported media type",
    )


@dataclass
class Webhook:
    """One webhook as it arrived."""

    id: str
    received_at: float
    path: str
    content_type: str
    fields: dict[str, str]
    x_ref_payco: str | None
    x_cust_id_cliente: str | None
    x_cod_response: str | None
    signature_valid: bool
    signature_note: str


@dataclass
class ReceiverState:
    """Configured merchants (p_key by p_cust_id_cliente) and the webhooks received."""

    rng: SeededRandom
    clock: Callable[[], float] = time.time
    keys: dict[str, str] = field(default_factory=dict)
    webhooks: deque[Webhook] = field(default_factory=lambda: deque(maxlen=MAX_WEBHOOKS))

    def reset(self) -> None:
        """No merchants, no webhooks."""
        self.keys.clear()
        self.webhooks.clear()

    def receive(self, path: str, content_type: str, fields: dict[str, str]) -> Webhook:
        """Record a webhook and whether its signature verifies."""
        valid, note = check_signature(fields, self.keys)
        hook = Webhook(
            id=self.rng.new_id("wh"),
            received_at=self.clock(),
            path=path,
            content_type=content_type,
            fields=fields,
            x_ref_payco=fields.get("x_ref_payco"),
            x_cust_id_cliente=fields.get("x_cust_id_cliente"),
            x_cod_response=fields.get("x_cod_response"),
            signature_valid=valid,
            signature_note=note,
        )
        self.webhooks.append(hook)
        return hook

    def query(
        self, ref_payco: str | None, cust_id: str | None, valid: bool | None, limit: int
    ) -> list[Webhook]:
        """Webhooks matching the filters, newest first."""
        out: list[Webhook] = []
        for hook in reversed(self.webhooks):
            if ref_payco is not None and hook.x_ref_payco != ref_payco:
                continue
            if cust_id is not None and hook.x_cust_id_cliente != cust_id:
                continue
            if valid is not None and hook.signature_valid is not valid:
                continue
            out.append(hook)
            if len(out) >= limit:
                break
        return out

    def snapshot(self) -> dict[str, Any]:
        """Merchants and webhooks, for the state file."""
        return {"keys": dict(self.keys), "webhooks": [asdict(h) for h in self.webhooks]}

    def restore(self, data: dict[str, Any]) -> None:
        """Load a snapshot."""
        self.reset()
        self.keys.update({str(k): str(v) for k, v in data.get("keys", {}).items()})
        self.webhooks.extend(Webhook(**raw) for raw in data.get("webhooks", []))
