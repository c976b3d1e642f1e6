"""Evaluation metrics by name (`@register_metric`), and the evaluator that runs them.

Importing this package registers every metric: the toys' (`modes`, `hq_fraction`, `reverse_kl`,
`w1`), the labelled images' (`fd_classifier`, `kid`, `class_coverage`, `class_kl`), every image
dataset's `swd`, and the optional ones a paper quotes (`fid`, `is`, `kid_inception`, `precision`,
`recall`, in TF-Inception features). docs/metrics.md says what each one measures and its caveats.

May import `harness.core`, `harness.data` and `harness.stores` (the names of the stored protocol params).
"""

from harness.metrics import images as _images  # noqa: F401  (registers fd_classifier, kid, class_coverage, class_kl)
from harness.metrics import swd as _swd  # noqa: F401  (registers swd)
from harness.metrics import fidelity as _fidelity  # noqa: F401  (registers fid, is, kid_inception, precision, recall)
from harness.metrics import toys as _toys  # noqa: F401  (registers modes, hq_fraction, reverse_kl, w1)
from harness.metrics.base import (DEFAULT_OBJECTIVES, METRICS, EvalContext, Metric, default_objective, metrics_for,
                                  register_metric)
from harness.metrics.evaluator import Evaluator

__all__ = ["DEFAULT_OBJECTIVES", "METRICS", "EvalContext", "Evaluator", "Metric", "default_objective", "metrics_for",
           "register_metric"]
