"""The noise on insight counts matches the configured epsilon, statistically.

OpenDP draws noise from a cryptographically secure generator that cannot be seeded; the synthetic
data is seeded (random.Random(12)). Over 20,000 noisy releases of a histogram of synthetic customers,
the mean of each cell must be within 5 standard errors of its true count, and the variance of the
noise within 10% of the discrete Laplace variance 2p / (1 - p)^2 with p = exp(-epsilon / sensitivity).
At 20,000 draws the variance's standard error is about 1.6% (Laplace kurtosis 6), so 10% is over 6
standard errors: a correct mechanism fails this far less than once in a million runs, while noise
calibrated to half or twice the epsilon (variance about 4x off) always fails it.
"""

from __future__ import annotations

import math
import random
import statistics

import pytest

from consent_ledger.errors import InputError
from consent_ledger.insights.budget import to_micro
from consent_ledger.insights.noise import laplace_counts
from consent_ledger.services.insights import HistogramSpec, bin_counts

RUNS = 20_000
BINS = ["18-24", "25-34", "35-44", "45-54", "55+"]


def _synthetic(rng: random.Random, customers: int) -> list[list[str]]:
    return [[rng.choice(BINS)] for _ in range(customers)]


def _variance(epsilon: float, sensitivity: int) -> float:
    p = math.exp(-epsilon / sensitivity)
    return 2 * p / (1 - p) ** 2


@pytest.mark.parametrize(("epsilon", "sensitivity"), [(0.5, 2), (1.0, 2), (2.0, 3)])
def test_mean_and_spread_match_epsilon(epsilon: float, sensitivity: int) -> None:
    rng = random.Random(12)
    spec = HistogramSpec("demographic.age_range", BINS)
    truth = bin_counts(_synthetic(rng, 1_000), spec)
    assert sum(truth) == 1_000
    # one release is one vector; RUNS releases at once are the same mechanism applied to a longer vector
    noisy = laplace_counts(truth * (RUNS // len(BINS)), sensitivity, epsilon)
    assert noisy.epsilon == pytest.approx(epsilon)  # OpenDP's privacy map agrees with the calibration
    assert noisy.scale == pytest.approx(sensitivity / epsilon)
    expected = _variance(epsilon, sensitivity)
    errors = [n - t for n, t in zip(noisy.counts, truth * (RUNS // len(BINS)), strict=True)]
    assert abs(statistics.fmean(errors)) < 5 * math.sqrt(expected / len(errors))
    for cell in range(len(BINS)):
        per_cell = errors[cell :: len(BINS)]
        assert abs(statistics.fmean(per_cell)) < 5 * math.sqrt(expected / len(per_cell))
    assert statistics.pvariance(errors) == pytest.approx(expected, rel=0.10)
    assert statistics.pvariance(errors) != pytest.approx(_variance(2 * epsilon, sensitivity), rel=0.10)
    assert statistics.pvariance(errors) != pytest.approx(_variance(epsilon / 2, sensitivity), rel=0.10)


def test_contributions_bound_what_one_customer_adds() -> None:
    spec = HistogramSpec("interests", ["hiking", "climbing", "cooking"], contributions=2)
    assert bin_counts([["Hiking, climbing, cooking"], ["cooking", "chess"], []], spec) == [1, 1, 1]
    assert bin_counts([["hiking", "hiking"]], spec) == [1, 0, 0]  # a repeated value counts once


def test_epsilon_must_be_positive() -> None:
    with pytest.raises(InputError):
        laplace_counts([1], 1, 0.0)


def test_charges_never_undercount() -> None:
    assert to_micro(1.5000000000000002) == 1_500_000
    assert to_micro(0.0000011) == 2
    assert to_micro(0.3) == 300_000
