"""Numeric tests of the 2-D toy metrics: the VEEGAN/PacGAN mode protocol and W1."""

from __future__ import annotations

import math

import pytest
import torch

from harness.config.resolve import RunConfig, parse_experiment, resolve_run
from harness.data import load_dataset
from harness.metrics.base import METRICS, EvalContext
from harness.metrics.toys import HQ_STDS, W1_MAX_POINTS, assign_modes, mode_histogram, seeded_sample

CPU = torch.device("cpu")
HQ_TRUE = 1 - math.exp(-HQ_STDS**2 / 2)  # P(chi2_2 <= 9) = 0.98889: a 2-D Gaussian within 3 sigma


def toy_run(name: str, num_samples: int = 2500) -> RunConfig:
    exp = parse_experiment({"name": "t", "data": {"name": name}, "eval": {"num_samples": num_samples},
                            "sweep": {"trials_per_variant": 1}})
    return resolve_run(exp, "wgan_gp")


def score(name: str, fake: torch.Tensor, metric: str, run_cache: dict | None = None) -> float:
    run = toy_run(name, fake.shape[0])
    ctx = EvalContext(run, load_dataset(run.data, CPU), CPU, fake, {} if run_cache is None else run_cache)
    return METRICS.get(metric).compute(ctx)


def mixture_samples(name: str, n: int, seed: int, modes: list[int] | None = None) -> torch.Tensor:
    """n samples of the true mixture (optionally restricted to some modes), from a private generator."""
    ds = load_dataset(toy_run(name).data, CPU)
    g = torch.Generator().manual_seed(seed)
    allowed = torch.tensor(modes) if modes is not None else torch.arange(ds.centers.shape[0])
    idx = allowed[torch.randint(0, allowed.numel(), (n,), generator=g)]
    return ds.centers[idx] + ds.sigma * torch.randn(n, 2, generator=g)


@pytest.mark.parametrize("name,k,kl_bound", [("ring8", 8, 0.005), ("grid25", 25, 0.015)])
def test_true_mixture_scores_every_mode_and_the_analytic_hq(name: str, k: int, kl_bound: float) -> None:
    fake = mixture_samples(name, 2500, seed=1)
    assert score(name, fake, "modes") == k
    # Binomial(2500, 0.98889): sd 0.0021, so +-0.006 is ~3 sd. (0.997 is the 1-D figure.)
    assert score(name, fake, "hq_fraction") == pytest.approx(HQ_TRUE, abs=0.006)
    # Multinomial noise alone: E[KL] ~ (k - 1) / (2 n) = 0.0014 (ring8), 0.0048 (grid25).
    assert score(name, fake, "reverse_kl") < kl_bound


@pytest.mark.parametrize("name,k", [("ring8", 8), ("grid25", 25)])
def test_samples_at_one_mode_score_one_mode_and_reverse_kl_log_k(name: str, k: int) -> None:
    fake = mixture_samples(name, 2500, seed=2, modes=[3])
    assert score(name, fake, "modes") == 1
    assert score(name, fake, "reverse_kl") == pytest.approx(math.log(k), abs=1e-12)
    assert score(name, fake, "hq_fraction") == pytest.approx(HQ_TRUE, abs=0.01)  # collapsed, yet sharp


def test_a_fixed_shift_lowers_hq_but_keeps_the_modes() -> None:
    fake = mixture_samples("ring8", 2500, seed=3)
    sigma = load_dataset(toy_run("ring8").data, CPU).sigma
    shifted = fake + torch.tensor([2.0 * sigma, 0.0])
    # P(|N((2, 0), I)| <= 3) = ncx2.cdf(9, df=2, nc=4) = 0.786: a clear drop from 0.989.
    assert score("ring8", shifted, "hq_fraction") == pytest.approx(0.786, abs=0.03)
    assert score("ring8", fake + torch.tensor([10.0 * sigma, 0.0]), "hq_fraction") == 0.0
    assert score("ring8", shifted, "modes") == 8


def test_half_the_modes_give_reverse_kl_log_2() -> None:
    fake = mixture_samples("ring8", 2500, seed=4, modes=[0, 2, 4, 6])
    assert score("ring8", fake, "modes") == 4
    assert score("ring8", fake, "reverse_kl") == pytest.approx(math.log(2), abs=0.01)


def test_no_high_quality_sample_counts_no_mode_and_worst_reverse_kl() -> None:
    fake = torch.zeros(100, 2)  # the centre of the ring: far from every mode
    assert score("ring8", fake, "modes") == 0
    assert score("ring8", fake, "hq_fraction") == 0
    assert score("ring8", fake, "reverse_kl") == pytest.approx(math.log(8))


def test_non_finite_samples_are_never_high_quality_and_w1_is_inf() -> None:
    fake = mixture_samples("ring8", 200, seed=5)
    fake[:100] = float("nan")
    assert score("ring8", fake, "hq_fraction") == pytest.approx(0.5 * HQ_TRUE, abs=0.05)
    assert score("ring8", fake, "w1") == math.inf


def test_mode_histogram_counts_high_quality_samples_only() -> None:
    centers = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    points = torch.tensor([[0.0, 0.0], [0.01, 0.0], [1.0, 0.0], [0.5, 0.0]])  # the last is between modes
    assignment = assign_modes(points, centers, sigma=0.01)
    assert assignment.high_quality.tolist() == [True, True, True, False]
    assert mode_histogram(assignment).tolist() == pytest.approx([2 / 3, 1 / 3])


@pytest.mark.parametrize("name", ["ring8", "grid25", "swissroll"])
def test_w1_of_true_samples_is_small_and_far_below_a_collapse(name: str) -> None:
    run = toy_run(name)
    ds = load_dataset(run.data, CPU)
    real = seeded_sample(ds, 1000, seed=11, device=CPU)  # another seed than the reference set's
    collapsed = real[:1].expand(1000, -1).clone()
    good, bad = score(name, real, "w1"), score(name, collapsed, "w1")
    assert good < 0.22  # the sampling floor at 500 points: 0.11-0.14 +- 0.02
    assert bad > 6 * good  # a point collapse: 1.3-2.0


def test_w1_subsamples_to_a_fixed_count_and_is_deterministic() -> None:
    fake = mixture_samples("ring8", 2500, seed=6)
    run = toy_run("ring8")
    ctx = EvalContext(run, load_dataset(run.data, CPU), CPU, fake, {})
    first = METRICS.get("w1").compute(ctx)
    assert ctx.info["w1_points"] == W1_MAX_POINTS
    assert METRICS.get("w1").compute(ctx) == first
    assert score("ring8", fake, "w1") == first  # a fresh run draws the same reference set


def test_reference_points_leave_the_global_rng_untouched() -> None:
    torch.manual_seed(0)
    before = torch.get_rng_state()
    score("swissroll", torch.zeros(300, 2), "w1")
    assert torch.equal(torch.get_rng_state(), before)


def test_seeded_sample_is_repeatable() -> None:
    ds = load_dataset(toy_run("grid25").data, CPU)
    assert torch.equal(seeded_sample(ds, 50, 3, CPU), seeded_sample(ds, 50, 3, CPU))
    assert not torch.equal(seeded_sample(ds, 50, 3, CPU), seeded_sample(ds, 50, 4, CPU))
