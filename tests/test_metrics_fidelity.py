"""fid, is, kid_inception, precision and recall: equal to torch-fidelity's with one weights file and one image set,
and the reference statistics computed once per cache, whatever the number of runs."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.core.errors import UserError
from harness.metrics import METRICS, Evaluator, EvalContext
from harness.metrics import fidelity, inception
from harness.metrics.inception import to_uint8
from tests.conftest import tiny_run
from tests.inception_support import image_set, write_random_inception

N_FAKE, N_REAL, SIDE, SEED = 20, 24, 16, 7


def image_dataset(real: torch.Tensor, name: str = "photos") -> types.SimpleNamespace:
    """The attributes of an ImageDataset the Inception metrics read."""
    return types.SimpleNamespace(kind="images", name=name, images=real, test_images=real[: len(real) // 2],
                                 sample_shape=tuple(real.shape[1:]), info={})


def run_config(cache_dir: Path, num_samples: int = N_FAKE):
    return tiny_run("wgan_gp", "dcgan-digits8", eval={"num_samples": num_samples, "seed": SEED,
                                                      "cache_dir": str(cache_dir),
                                                      "metrics": ["fid", "is", "kid_inception", "precision",
                                                                  "recall"]}, sweep={"objective": "fid"})


class UInt8Images(torch.utils.data.Dataset):
    def __init__(self, images: torch.Tensor) -> None:
        self.images = to_uint8(images)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_random_inception(tmp_path_factory.mktemp("torch-home"))


@pytest.fixture
def torch_home(weights: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(weights.parents[2]))
    return weights


@pytest.mark.slow
def test_fid_is_kid_and_precision_recall_equal_torch_fidelitys(torch_home: Path, tmp_path: Path) -> None:
    import torch_fidelity

    real, fake = image_set(N_REAL, SIDE, seed=1), image_set(N_FAKE, SIDE, seed=2, shift=0.6)
    cfg = run_config(tmp_path)
    ctx = EvalContext(cfg, image_dataset(real), torch.device("cpu"), fake, run_cache={})
    ours = {name: METRICS.get(name).compute(ctx) for name in cfg.eval.metrics}
    theirs = torch_fidelity.calculate_metrics(
        input1=UInt8Images(fake), input2=UInt8Images(real), cuda=False, isc=True, fid=True, kid=True, prc=True,
        feature_extractor="inception-v3-compat", feature_layer_prc="2048",
        feature_extractor_weights_path=str(torch_home), kid_subset_size=N_FAKE, kid_subsets=fidelity.KID_SUBSETS,
        isc_splits=fidelity.IS_SPLITS, rng_seed=SEED, verbose=False, cache=False, save_cpu_ram=True)
    assert ours["fid"] == pytest.approx(theirs["frechet_inception_distance"], rel=1e-3)
    assert ours["is"] == pytest.approx(theirs["inception_score_mean"], rel=1e-3)
    assert ours["kid_inception"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-3)
    assert (ours["precision"], ours["recall"]) == (pytest.approx(theirs["precision"], abs=1e-9),
                                                   pytest.approx(theirs["recall"], abs=1e-9))
    # not vacuous: the random detector tells the two sets apart, and every value is a real number
    assert ours["fid"] > 1.0 and ours["is"] > 1.2 and ours["kid_inception"] > 0 and 0 < ours["recall"] < 1


def test_inception_score_of_hand_made_logits() -> None:
    # two splits, each of two confident predictions of different classes: p(y) uniform over 2, KL = log 2 each
    logits = torch.tensor([[50.0, 0.0], [0.0, 50.0], [50.0, 0.0], [0.0, 50.0]])
    mean, std = fidelity.inception_score(logits, splits=1, seed=0)
    assert mean == pytest.approx(2.0, rel=1e-9) and std == 0.0
    # identical predictions: KL 0, IS 1 (no diversity), whatever the split
    assert fidelity.inception_score(torch.zeros(6, 3), splits=3, seed=0)[0] == pytest.approx(1.0)


def test_precision_and_recall_of_hand_placed_points() -> None:
    # real: four points on a line with k = 1 radii of 1; fake: one on the manifold, one far away
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    fake = torch.tensor([[1.5], [10.0], [10.5]])
    precision, recall = fidelity.precision_recall(fake, real, k=1)
    assert precision == pytest.approx(1 / 3)
    # fake radii (k = 1): 8.5, 0.5, 0.5 -> the ball around 1.5 reaches every real point
    assert recall == pytest.approx(1.0)
    assert fidelity.precision_recall(real, real, k=1) == (1.0, 1.0)


class CountingDetector(torch.nn.Module):
    """A cheap stand-in for the Inception: pool = per-channel means tiled, logits = the means; counts images."""

    seen = 0

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        CountingDetector.seen += pixels.shape[0]
        means = pixels.float().mean(dim=(2, 3)) / 255
        return torch.cat([means, means.square(), pixels.float().std(dim=(2, 3)) / 255], dim=1), means


def test_the_reference_features_are_extracted_once_for_every_run_and_worker(
        torch_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fidelity, "load_detector", lambda path, device: CountingDetector())
    CountingDetector.seen = 0
    real, fake = image_set(N_REAL, SIDE, seed=1), image_set(N_FAKE, SIDE, seed=2)
    dataset = image_dataset(real)
    cfg = run_config(tmp_path / "cache")
    first = Evaluator(cfg, dataset, torch.device("cpu"))
    first.prepare()  # the sweep's parent process: computes and caches the reference
    assert CountingDetector.seen == N_REAL
    files = list((tmp_path / "cache" / "inception").iterdir())
    assert len(files) == 1 and f"photos-train-n{N_REAL}-{SIDE}px-3ch-" in files[0].name
    generator = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(cfg.model.z_dim, 3 * SIDE * SIDE),
                                    torch.nn.Tanh(), torch.nn.Unflatten(1, (3, SIDE, SIDE)))
    for trial in range(3):  # three trials (each a fresh evaluator, as in another worker process), two evaluations each
        evaluator = Evaluator(cfg, dataset, torch.device("cpu"))
        evaluator.prepare()
        for _ in range(2):
            scores = evaluator(generator)
        assert set(scores) == {"fid", "is", "kid_inception", "precision", "recall"}
    assert CountingDetector.seen == N_REAL + 3 * 2 * N_FAKE  # generated images each time, the reference once
    assert evaluator.info["protocol.fid"].startswith(f"{N_FAKE} generated vs {N_REAL} photos train images at 16 px")
    # another split, or changed images, is another entry
    other = Evaluator(run_config(tmp_path / "cache"), image_dataset(real[:-1]), torch.device("cpu"))
    other.prepare()
    assert CountingDetector.seen == N_REAL + 3 * 2 * N_FAKE + (N_REAL - 1)
    assert len(list((tmp_path / "cache" / "inception").iterdir())) == 2
