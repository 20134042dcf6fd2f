"""Sent messages and the delivery receipts they produce."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from paylab.core.problems import Problem
from simulators.callbacks import CallbackSender
from simulators.seeding import SeededRandom
from simulators.sms.numbers import MAGIC_NUMBERS, encoding_and_segments, number_error
from simulators.sms.schemas import MessageIn, SmsSettings

MAX_MESSAGES = 100_000


@dataclass
class Message:
    """One SMS."""

    id: str
    to: str
    body: str
    sender: str | None
    reference: str | None
    callback_url: str | None
    status: str
    error_code: str | None
    encoding: str
    segments: int
    created_at: float
    updated_at: float


@dataclass
class SmsState:
    """The message log plus the timers that deliver messages."""

    rng: SeededRandom
    callbacks: CallbackSender
    clock: Callable[[], float] = time.time
    settings: SmsSettings = field(default_factory=SmsSettings)
    messages: dict[str, Message] = field(default_factory=dict)
    _timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)

    def reset(self) -> None:
        """Empty log, default settings, no pending deliveries."""
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self.messages.clear()
        self.settings = SmsSettings()

    def send(self, body: MessageIn) -> Message:
        """Accept a message: receipt `sent` now, the final one after delivery_delay_ms."""
        error = number_error(body.to)
        if error is not None:
            raise Problem(
                422,
                "invalid-number",
                f"Cannot send an SMS to {body.to!r}: {error}.",
                errors=[{"field": "body.to", "message": error}],
            )
        encoding, segments = encoding_and_segments(body.body)
        now = self.clock()
        msg = Message(
            id=self.rng.new_id("sms"),
            to=body.to,
            body=body.body,
            sender=body.sender,
            reference=body.reference,
            callback_url=str(body.callback_url) if body.callback_url else None,
            status="queued",
            error_code=None,
            encoding=encoding,
            segments=segments,
            created_at=now,
            updated_at=now,
        )
        self.messages[msg.id] = msg
        if len(self.messages) > MAX_MESSAGES:
            del self.messages[next(iter(self.messages))]
        self._advance(msg, "sent", None)
        final, code = MAGIC_NUMBERS.get(msg.to, ("delivered", None))
        if final != "sent":
            loop = asyncio.get_running_loop()
            delay = self.settings.delivery_delay_ms / 1000
            self._timers[msg.id] = loop.call_later(delay, self._deliver, msg.id, final, code)
        return msg

    def _deliver(self, msg_id: str, status: str, code: str | None) -> None:
        self._timers.pop(msg_id, None)
        msg = self.messages.get(msg_id)
        if msg is not None:
            self._advance(msg, status, code)

    def _advance(self, msg: Message, status: str, code: str | None) -> None:
        msg.status, msg.error_code, msg.updated_at = status, code, self.clock()
        if msg.callback_url:
            self.callbacks.send(msg.callback_url, f"sms.{status}", receipt(msg))

    def get(self, msg_id: str) -> Message:
        """One message."""
        msg = self.messages.get(msg_id)
        if msg is None:
            raise Problem(404, "unknown-message", f"No message {msg_id!r}.")
        return msg

    def query(
        self, to: str | None, status: str | None, reference: str | None, limit: int
    ) -> list[Message]:
        """Messages matching the filters, newest first."""
        out: list[Message] = []
        for msg in reversed(self.messages.values()):
            if (to and msg.to != to) or (status and msg.status != status):
                continue
            if reference and msg.reference != reference:
                continue
            out.append(msg)
            if len(out) >= limit:
                break
        return out

    def snapshot(self) -> dict[str, Any]:
        """Messages and settings (deliveries in flight are not resumed)."""
        return {
            "settings": self.settings.model_dump(),
            "messages": [asdict(m) for m in self.messages.values()],
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Load a snapshot."""
        self.reset()
        self.settings = SmsSettings.model_validate(data.get("settings", {}))
        for raw in data.get("messages", []):
            self.messages[raw["id"]] = Message(**raw)


def receipt(msg: Message) -> dict[str, Any]:
    """The delivery receipt body."""
    return {
        "message_id": msg.id,
        "to": msg.to,
        "status": msg.status,
        "error_code": msg.error_code,
        "reference": msg.reference,
        "at": msg.updated_at,
    }


def message_body(msg: Message) -> dict[str, Any]:
    """The API form of a message."""
    out = asdict(msg)
    out.pop("callback_url")
    return out
