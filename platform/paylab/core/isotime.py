"""Dates and times as the APIs accept them: ISO 8601 text only.

Pydantic's lax mode reads `0` or `"0"` as 1970-01-01, which turns a client's mistake into a
silently wrong day; these types refuse anything but ISO text (or the value itself in Python).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}.*")


def _iso_date(value: object) -> object:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    return value


def _iso_datetime(value: object) -> object:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        raise ValueError("must be an ISO 8601 date and time with its offset")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
IsoDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_datetime)]
