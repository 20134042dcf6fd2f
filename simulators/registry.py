"""Names of the simulators and how to build each one."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol

from fastapi import FastAPI

from simulators import DEFAULT_PORTS

NAMES: tuple[str, ...] = tuple(DEFAULT_PORTS)


class AppFactory(Protocol):
    """`create_app` of a simulator package."""

    def __call__(self, *, seed: int = 0, state_file: Path | None = None) -> FastAPI:
        """Build the app."""


def create(name: str, *, seed: int = 0, state_file: Path | None = None) -> FastAPI:
    """Build simulator `name`; ValueError for an unknown name."""
    if name not in DEFAULT_PORTS:
        raise ValueError(f"unknown simulator {name!r}; choose one of: {', '.join(NAMES)}")
    module = importlib.import_module(f"simulators.{name}")
    factory: AppFactory = module.create_app
    return factory(seed=seed, state_file=state_file)
