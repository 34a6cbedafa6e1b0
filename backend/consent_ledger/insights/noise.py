"""The noise on every released count: OpenDP's Laplace mechanism on integers (discrete Laplace).

A query releases one vector of counts. Adding or removing one customer changes it by at most
`sensitivity` in L1 (1 for the total, plus the bins each customer may touch per histogram), so
noise of scale `sensitivity / epsilon` makes the release epsilon-differentially private. The epsilon
charged is the one OpenDP's privacy map computes for that sensitivity, not our own arithmetic.
OpenDP draws from a cryptographically secure generator: the noise cannot be seeded or replayed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import opendp.prelude as dp

from consent_ledger.errors import InputError


@dataclass(frozen=True, slots=True)
class NoisyCounts:
    counts: list[int]
    scale: float
    epsilon: float  # what OpenDP's privacy map says this release costs


def _opendp() -> Any:
    dp.enable_features("contrib")  # make_laplace on integers is in OpenDP's "contrib" set
    return dp


def laplace_counts(counts: Sequence[int], sensitivity: int, epsilon: float) -> NoisyCounts:
    """`counts` plus discrete Laplace noise calibrated to `epsilon` for an L1 `sensitivity`."""
    if sensitivity < 1 or not epsilon > 0:
        raise InputError("epsilon must be positive")
    dp = _opendp()
    scale = sensitivity / epsilon
    space = (dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int))
    measurement = dp.m.make_laplace(*space, scale=scale)
    noisy = [int(c) for c in measurement([int(c) for c in counts])]
    return NoisyCounts(noisy, scale, float(measurement.map(sensitivity)))


def accuracy(scale: float, alpha: float = 0.05) -> float:
    """Half-width of the interval that holds the true count with probability 1 - alpha (OpenDP)."""
    dp = _opendp()
    return float(dp.discrete_laplacian_scale_to_accuracy(scale, alpha))
