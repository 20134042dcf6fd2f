"""Write or check the committed OpenAPI documents of services and simulators.

    python -m paylab.core.openapi_export [--check] [NAME ...]     # e.g. wallet sim-bank

Each app factory builds its app without connecting to anything, so the documents can be
exported and compared offline.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import yaml

SPEC_DIR = Path(__file__).resolve().parents[3] / "contracts" / "openapi"
# Document name -> (module, factory, factory arguments); add a line per app.
APPS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "auth": ("paylab.auth.app", "create", ()),
    "payment": ("paylab.payment.app", "create", ()),
    "wallet": ("paylab.wallet.app", "create", ()),
    "notification": ("paylab.notification.app", "create", ()),
    "merchant": ("paylab.merchant.app", "create", ()),
    "audit": ("paylab.audit.app", "create", ()),
    **{
        f"sim-{name}": ("simulators.registry", "create", (name,))
        for name in ("pse", "bank", "antifraud", "sms", "merchant")
    },
}


def spec_path(name: str) -> Path:
    """Where the committed document `name` lives."""
    return SPEC_DIR / f"{name}.yaml"


def served(name: str) -> dict[str, Any]:
    """The document the app serves at /openapi.json."""
    module, factory, args = APPS[name]
    doc: dict[str, Any] = getattr(importlib.import_module(module), factory)(*args).openapi()
    return doc


def render(doc: dict[str, Any]) -> str:
    """Stable YAML text for a document."""
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def main(argv: list[str]) -> int:
    """Write the named documents (all by default), or with --check report the stale ones."""
    names = [a for a in argv if not a.startswith("--")] or list(APPS)
    unknown = [n for n in names if n not in APPS]
    if unknown:
        print(f"unknown: {', '.join(unknown)}; choose from {', '.join(APPS)}")
        return 2
    stale = []
    for name in names:
        text, path = render(served(name)), spec_path(name)
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for path_text in stale:
        print(f"stale: {path_text} (run python -m paylab.core.openapi_export)")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
