"""Write or check services' OpenAPI specs: `python -m paylab.core.openapi_export [--check]`.

Each service's app factory must build its app without connecting to anything, so the spec
can be exported and compared offline.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import yaml

SPEC_DIR = Path(__file__).resolve().parents[3] / "contracts" / "openapi"
# Service name -> module with a `create()` app factory; add a line per service.
SERVICES = {
    "auth": "paylab.auth.app",
    "payment": "paylab.payment.app",
    "wallet": "paylab.wallet.app",
}


def spec_path(name: str) -> Path:
    """Where the committed document of service `name` lives."""
    return SPEC_DIR / f"{name}.yaml"


def served(name: str) -> dict[str, Any]:
    """The document the service serves at /openapi.json."""
    doc: dict[str, Any] = importlib.import_module(SERVICES[name]).create().openapi()
    return doc


def render(doc: dict[str, Any]) -> str:
    """Stable YAML text for a document (the same form simulators/openapi_export writes)."""
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def main(argv: list[str]) -> int:
    """Write the specs of the named services (all by default), or report stale ones."""
    names = [a for a in argv if not a.startswith("--")] or list(SERVICES)
    stale = []
    for name in names:
        text = render(served(name))
        path = spec_path(name)
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
