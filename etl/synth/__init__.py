"""Synthetic TSR world at full or small scale, written in the raw contract layout (DATA_CONTRACT.md)."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .params import SCALES, Planted
from .world import build_stages
from .writer import WorldWriter

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
    # Threads overlap the stages (not forked processes: a fork while a thread of a compiled library holds
    # a lock deadlocks the child; the work here is mostly numpy, pyarrow and BLAS, which release the GIL):
    # the 2005 files are built while the 2010 network is, the oracle fits run while the rest is written.
    # Each generator is drawn from by one thread at a time, in the order of a sequential run.
    rng = np.random.default_rng([seed, 1])
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="synth") as background, \
            WorldWriter(Path(out), rng) as writer:
        stages = build_stages(SCALES[scale], seed, planted, progress=progress, background=background)
        first = background.submit(writer.start, next(stages))
        world = next(stages)
        stages.close()  # frees the generator's intermediate tables (the candidate pool, ...)
        if progress:
            progress("writing files")
        first.result()
        return writer.finish(world)
