"""Synthetic TSR world at full or small scale, written in the raw contract layout (DATA_CONTRACT.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .params import SCALES, Planted
from .world import build_world
from .writer import write_world

__all__ = ["generate", "SCALES", "Planted"]


def generate(out: str | Path, scale: str = "small", seed: int = 0, progress=None) -> dict:
    """Generate a synthetic data root at ``out``; returns the truth written to ``out/truth.json``.

    Deterministic per (scale, seed)."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {sorted(SCALES)}")
    world = build_world(SCALES[scale], seed, progress=progress)
    if progress:
        progress("writing files")
    rng = np.random.default_rng([seed, 1])
    return write_world(world, Path(out), rng)
