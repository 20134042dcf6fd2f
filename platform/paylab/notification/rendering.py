"""Spanish (es-CO) message templates, kept as files in `templates/`, and their formatting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from string import Template

# Colombia keeps UTC-5 all year (no daylight saving), so a fixed offset needs no tz database.
BOGOTA = timezone(timedelta(hours=-5), "COT")
CENT = Decimal("0.01")
MONTHS = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)


@dataclass(frozen=True)
class Rendered:
    """A message ready to send: `subject` for email only."""

    subject: str | None
    body: str


def money(amount: Decimal, currency: str) -> str:
    """Colombian style: dots for thousands, comma for cents, "$30.000,00 COP"."""
    quantized = amount.quantize(CENT)
    sign = "-" if quantized < 0 else ""
    whole, cents = f"{abs(quantized):.2f}".split(".")
    grouped = f"{int(whole):,}".replace(",", ".")
    return f"{sign}${grouped},{cents} {currency}"


def long_date(day: date) -> str:
    """ "4 de diciembre de 2026"."""
    return f"{day.day} de {MONTHS[day.month - 1]} de {day.year}"


def local_datetime(moment: datetime) -> str:
    """The moment in Bogotá time, "04/12/2026 14:53" (24-hour clock)."""
    return moment.astimezone(BOGOTA).strftime("%d/%m/%Y %H:%M")


@lru_cache(maxsize=64)
def _template(name: str, channel: str) -> Template:
    path = resources.files("paylab.notification") / "templates" / f"{name}.{channel}.txt"
    return Template(path.read_text(encoding="utf-8"))


def render(name: str, channel: str, values: Mapping[str, str]) -> Rendered:
    """Fill template `name` for `channel`; an email template's first line is its subject.

    `substitute` (not `safe_substitute`): a placeholder without a value is a bug to see in
    tests, not a "$amount" to send to a customer.
    """
    text = _template(name, channel).substitute(values)
    if channel == "email":
        subject, _, body = text.partition("\n")
        return Rendered(subject.strip(), body.lstrip("\n"))
    return Rendered(None, text.strip())
