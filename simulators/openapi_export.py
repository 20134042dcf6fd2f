"""Write or check the committed OpenAPI specs: `python -m simulators.openapi_export [--check]`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from simulators.registry import NAMES, create

SPEC_DIR = Path(__file__).resolve().parent.parent / "contracts" / "openapi"


def spec_path(name: str) -> Path:
    """Where the committed document of simulator `name` lives."""
    return SPEC_DIR / f"sim-{name}.yaml"


def served(name: str) -> dict[str, Any]:
    """The document the simulator serves at /openapi.json."""
    return create(name).openapi()


def render(doc: dict[str, Any]) -> str:
    """Stable YAML text for a document."""
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def main(argv: list[str]) -> int:
    """Write every spec, or with --check report the ones that differ."""
    stale = []
    for name in NAMES:
        text = render(served(name))
        path = spec_path(name)
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for path_text in stale:
        print(f"stale: {path_text} (run python -m simulators.openapi_export)")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
