"""The PSE bank list: real Colombian banks plus magic test banks that decide on their own."""

from __future__ import annotations

from typing import Literal

Magic = Literal["approve", "reject", "fail", "pending_then_approve", "never_answer"]

REAL_BANKS: dict[str, str] = {
    "1001": "BANCO DE BOGOTA",
    "1007": "BANCOLOMBIA",
    "1013": "BANCO BBVA COLOMBIA S.A.",
    "1019": "SCOTIABANK COLPATRIA",
    "1023": "BANCO DE OCCIDENTE",
    "1032": "BANCO CAJA SOCIAL",
    "1040": "BANCO AGRARIO",
    "1051": "BANCO DAVIVIENDA",
    "1052": "BANCO AV VILLAS",
    "1062": "BANCO FALABELLA",
    "1507": "NEQUI",
    "1551": "DAVIPLATA",
}

#: Magic bank codes decide without a browser (documented in the README, "Simulators").
MAGIC_BANKS: dict[str, tuple[str, Magic]] = {
    "9991": ("SIMULADOR APRUEBA", "approve"),
    "9992": ("SIMULADOR RECHAZA", "reject"),
    "9993": ("SIMULADOR FALLA", "fail"),
    "9994": ("SIMULADOR PENDIENTE LUEGO APRUEBA", "pending_then_approve"),
    "9995": ("SIMULADOR NO RESPONDE", "never_answer"),
}


def bank_name(code: str) -> str | None:
    """Name of a bank code, or None if PSE does not know it."""
    if code in REAL_BANKS:
        return REAL_BANKS[code]
    magic = MAGIC_BANKS.get(code)
    return magic[0] if magic else None
