"""constraints.txt: the versions .venv, CI and the platform image install (pip -c)."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
# `pip freeze` leaves these out (the environment's own installers); a dependency may name one.
_INSTALLERS = {"pip", "setuptools", "wheel"}


def _pins() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line!r}"
            pins[canonicalize_name(name)] = Version(version)
    return pins


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return [Requirement(r) for r in listed]


def test_every_dependency_is_pinned_within_what_pyproject_allows() -> None:
    pins = _pins()
    for requirement in _requirements():
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in constraints.txt (regenerate it)"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name} {pins[name]}, pyproject.toml wants {requirement}"
        )


def _closure() -> set[str]:
    """The distributions `.[dev]` brings in, dependencies of dependencies included."""
    seen: set[str] = set()
    todo = [(r, "") for r in _requirements()]
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        extras = sorted(requirement.extras) or [""]
        if name in seen and extras == [""]:
            continue
        seen.add(name)
        for wanted in metadata.requires(name) or []:
            todo += [(Requirement(wanted), e) for e in extras]
    return seen


def test_the_environment_runs_the_pinned_versions_and_nothing_unpinned() -> None:
    """./paylab reinstalls when constraints.txt changes: a mismatch means a stale .venv; a
    dependency of a dependency without a pin means constraints.txt needs regenerating."""
    pins = _pins()
    for name, version in pins.items():
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            raise AssertionError(f"{name} is pinned but not installed: run ./paylab") from None
        assert installed == version, name
    unpinned = _closure() - set(pins) - _INSTALLERS
    assert not unpinned, f"needed but not in constraints.txt: {sorted(unpinned)}"
