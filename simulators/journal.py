"""The journal: a bounded ring buffer of every request, response and callback."""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from simulators.faults import _glob_to_regex

BODY_LIMIT = 8192


@dataclass(slots=True)
class Entry:
    """One journal line; bodies stay bytes until someone reads the journal."""

    seq: int
    at: float
    kind: str  # "request" | "callback"
    method: str
    path: str
    query: str
    request_body: bytes
    status: int  # 0 when no HTTP answer (reset, dropped, connection error)
    response_body: bytes
    duration_ms: float
    fault_id: str | None = None
    fault_type: str | None = None
    url: str | None = None
    event_id: str | None = None
    note: str | None = None


class JournalEntryOut(BaseModel):
    """A journal entry as the API shows it."""

    seq: int
    at: float = Field(description="Unix time, seconds")
    kind: Literal["request", "callback"]
    method: str
    path: str
    query: str
    request_body: str
    status: int = Field(description="0 when there was no HTTP answer")
    response_body: str
    duration_ms: float
    fault: dict[str, str] | None = Field(
        default=None, description="{id, type} of the fault applied"
    )
    url: str | None = Field(default=None, description="Callback target URL")
    event_id: str | None = None
    note: str | None = None


class JournalQuery(BaseModel):
    """Filters for GET /_sim/journal."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["request", "callback"] | None = None
    method: str | None = Field(default=None, pattern=r"^[A-Za-z]{3,7}$")
    path: str | None = Field(default=None, min_length=1, max_length=300, description="Path glob")
    status: str | None = Field(
        default=None,
        pattern=r"^([0-9]{1,3}|[1-5]xx)$",
        description="Exact status or class like 5xx",
    )
    fault: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="`any`, `none`, or a fault rule id",
    )
    since: int = Field(default=0, ge=0, description="Only entries with seq > since")
    limit: int = Field(default=100, ge=1, le=5000)
    order: Literal["asc", "desc"] = "desc"
    wait_ms: int = Field(
        default=0, ge=0, le=30_000, description="Long-poll until min_count entries match"
    )
    min_count: int = Field(default=1, ge=1, le=5000)


def _text(raw: bytes) -> str:
    return raw[:BODY_LIMIT].decode("utf-8", "replace")


def render(entry: Entry) -> JournalEntryOut:
    """Convert a stored entry to its API form."""
    fault = (
        {"id": entry.fault_id, "type": entry.fault_type or ""}
        if entry.fault_id is not None
        else None
    )
    return JournalEntryOut(
        seq=entry.seq,
        at=entry.at,
        kind="callback" if entry.kind == "callback" else "request",
        method=entry.method,
        path=entry.path,
        query=entry.query,
        request_body=_text(entry.request_body),
        status=entry.status,
        response_body=_text(entry.response_body),
        duration_ms=round(entry.duration_ms, 3),
        fault=fault,
        url=entry.url,
        event_id=entry.event_id,
        note=entry.note,
    )


class Journal:
    """Append-only, bounded; the oldest entries fall off when it is full."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._entries: deque[Entry] = deque(maxlen=capacity)
        self._seq = 0
        self._waiters: set[asyncio.Event] = set()

    @property
    def capacity(self) -> int:
        """How many entries it keeps."""
        return self._entries.maxlen or 0

    def resize(self, capacity: int) -> None:
        """Change the capacity, keeping the newest entries."""
        self._entries = deque(self._entries, maxlen=capacity)

    def __len__(self) -> int:
        return len(self._entries)

    def record(
        self,
        kind: str,
        method: str,
        path: str,
        query: str,
        request_body: bytes,
        status: int,
        response_body: bytes,
        duration_ms: float,
        *,
        fault_id: str | None = None,
        fault_type: str | None = None,
        url: str | None = None,
        event_id: str | None = None,
        note: str | None = None,
    ) -> Entry:
        """Append one entry and wake long-polling readers."""
        self._seq += 1
        entry = Entry(
            self._seq,
            time.time(),
            kind,
            method,
            path,
            query,
            request_body[:BODY_LIMIT],
            status,
            response_body[:BODY_LIMIT],
            duration_ms,
            fault_id,
            fault_type,
            url,
            event_id,
            note,
        )
        self._entries.append(entry)
        if self._waiters:
            for event in self._waiters:
                event.set()
        return entry

    def clear(self) -> None:
        """Forget every entry; sequence numbers keep growing."""
        self._entries.clear()

    def select(self, q: JournalQuery) -> list[Entry]:
        """Entries matching the filters, in the requested order, at most `limit`."""
        path_re: re.Pattern[str] | None = _glob_to_regex(q.path) if q.path else None
        method = q.method.upper() if q.method else None
        status_exact: int | None = None
        status_class: int | None = None
        if q.status:
            if q.status.endswith("xx"):
                status_class = int(q.status[0])
            else:
                status_exact = int(q.status)
        picked: list[Entry] = []
        source = reversed(self._entries) if q.order == "desc" else iter(self._entries)
        for e in source:
            if e.seq <= q.since:
                if q.order == "desc":
                    break
                continue
            if q.kind and e.kind != q.kind:
                continue
            if method and e.method != method:
                continue
            if path_re is not None and path_re.match(e.path) is None:
                continue
            if status_exact is not None and e.status != status_exact:
                continue
            if status_class is not None and e.status // 100 != status_class:
                continue
            if q.fault == "any" and e.fault_id is None:
                continue
            if q.fault == "none" and e.fault_id is not None:
                continue
            if q.fault not in (None, "any", "none") and e.fault_id != q.fault:
                continue
            picked.append(e)
            if len(picked) >= q.limit:
                break
        return picked

    async def wait_select(self, q: JournalQuery) -> list[Entry]:
        """Like select, but waits up to `wait_ms` for `min_count` matching entries."""
        found = self.select(q)
        if q.wait_ms <= 0 or len(found) >= q.min_count:
            return found
        loop = asyncio.get_running_loop()
        deadline = loop.time() + q.wait_ms / 1000
        event = asyncio.Event()
        self._waiters.add(event)
        try:
            while len(found) < q.min_count:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                event.clear()
                try:
                    await asyncio.wait_for(event.wait(), remaining)
                except TimeoutError:
                    break
                found = self.select(q)
        finally:
            self._waiters.discard(event)
        return self.select(q)

    def stats(self) -> dict[str, Any]:
        """Size, capacity and last sequence number."""
        return {"size": len(self._entries), "capacity": self.capacity, "last_seq": self._seq}
