"""Synthetic TSR world at full or small scale, written in the raw contract layout (DATA_CONTRACT.md)."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .params import SCALES, Planted
from .world import build_world
from .writer import write_world

__all__ = ["generate", "planted_from", "SCALES", "Planted"]


def planted_from(assignments: list[str]) -> Planted:
    """Planted parameters with ``NAME=VALUE`` overrides (e.g. ``start_pi_shock=0.05``)."""
    fields = {f.name: f.type for f in dataclasses.fields(Planted)}
    kw = {}
    for a in assignments:
        name, sep, value = a.partition("=")
        name = name.strip()
        if not sep or name not in fields:
            raise ValueError(f"--set {a!r}: expected NAME=VALUE with NAME one of {', '.join(sorted(fields))}")
        kind = int if fields[name] in (int, "int") else float
        try:
            kw[name] = kind(value)
        except ValueError:
            raise ValueError(f"--set {a!r}: {name} takes {kind.__name__} values") from None
    return dataclasses.replace(Planted(), **kw)


def generate(out: str | Path, scale: str = "small", seed: int = 0, progress=None, planted: Planted | None = None) -> dict:
    """Generate a synthetic data root at ``out``; returns the truth written to ``out/truth.json``.

    Deterministic per (scale, seed, planted parameters)."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {sorted(SCALES)}")
    # the oracle fits run in a thread while the files are written (threads, not forked processes: a fork
    # while a thread of a compiled library holds a lock deadlocks the child; the fits release the GIL in
    # their numerical kernels)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="synth-oracles") as background:
        world = build_world(SCALES[scale], seed, planted, progress=progress, background=background)
        if progress:
            progress("writing files")
        rng = np.random.default_rng([seed, 1])
        return write_world(world, Path(out), rng)
