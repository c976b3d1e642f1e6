"""`fid_inception`: the standard FID through torchmetrics, an optional extra that never downloads.

It needs `torchmetrics[image]` (which brings torch-fidelity) and the FID Inception weights
already on disk at `<torch hub dir>/checkpoints/weights-inception-2015-12-05-6726825d.pth`
(the hub dir is `$TORCH_HOME/hub`, by default `~/.cache/torch/hub`). When either is missing,
`prepare` and the metric raise a UserError naming what to install or where to put the file.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from harness.errors import UserError
from harness.metrics.base import EvalContext, register_metric
from harness.metrics.images import reference_count, reference_indices

if TYPE_CHECKING:
    from harness.schema import RunConfig
    from harness.data import ImageDataset

WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity's port of the TF FID Inception
REQUIRED_MODULES = {"torchmetrics": "torchmetrics[image]", "torch_fidelity": "torch-fidelity"}
BATCH = 128  # images per Inception call (299 x 299 each)


def missing_packages() -> list[str]:
    """The pip requirements of the optional extra that are not importable here."""
    return [pip for module, pip in REQUIRED_MODULES.items() if importlib.util.find_spec(module) is None]


def weights_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def require_inception() -> Path:
    """The local Inception weights file, or a UserError saying what is missing (nothing is downloaded)."""
    missing = missing_packages()
    if missing:
        raise UserError(f"eval.metrics: fid_inception needs {', '.join(missing)} (pip install "
                        f"'gan-ablation-harness[fid]'); drop fid_inception or install them")
    path = weights_path()
    if not path.is_file():
        raise UserError(f"eval.metrics: fid_inception needs the Inception weights at '{path}' and never "
                        f"downloads them; copy {WEIGHTS_FILE} there (or set TORCH_HOME) or drop fid_inception")
    return path


def prepare_inception(cfg: "RunConfig", dataset: "ImageDataset", device: torch.device) -> None:
    """Prepare hook: fail before training, not after it, when the extra is not usable."""
    require_inception()


def to_inception_input(images: Tensor) -> Tensor:
    """[-1, 1] images with 1 or 3 channels -> 3-channel float in [0, 1] (torchmetrics resizes to 299)."""
    images = ((images + 1.0) / 2.0).clamp(0.0, 1.0)
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


def fid_module(ctx: EvalContext, n: int) -> Any:
    """A torchmetrics FID holding the reference images' Inception statistics, built once per run."""

    def build() -> Any:
        from torchmetrics.image.fid import FrechetInceptionDistance

        fid = FrechetInceptionDistance(feature=2048, reset_real_features=False, normalize=True,
                                       feature_extractor_weights_path=str(require_inception())).to(ctx.device)
        images = ctx.dataset.images
        idx = reference_indices(images.shape[0], n, ctx.cfg.eval.seed).to(images.device)
        for batch in images[idx].split(BATCH):
            fid.update(to_inception_input(batch.to(ctx.device)), real=True)
        return fid

    return ctx.shared(f"inception_fid_{n}", build, per_run=True)


@register_metric("fid_inception", direction="minimize", needs=("images",), default=False,
                 prepare=prepare_inception)
def fid_inception(ctx: EvalContext) -> float:
    """Standard FID (Inception-v3 pool3, 2048-d, torchmetrics) between generated and real images (minimize).

    Optional extra, off by default: same n and same reference training images as
    `fd_classifier`. Grayscale images are repeated to 3 channels and upsampled to 299 x 299, so
    values are not comparable with published FIDs of other datasets or sample counts.
    """
    n = reference_count(ctx)
    fid = fid_module(ctx, n)
    fid.reset()  # clears the generated side only (reset_real_features=False)
    for batch in ctx.fake[:n].split(BATCH):
        fid.update(to_inception_input(batch), real=False)
    return float(fid.compute())
