"""The training loop: one run of any recipe (`trainer`), its checkpoints (`checkpoint`), device
selection and seeding (`device`), per-step scalars kept on the device (`step_stats`), pictures of
samples (`visualize`), and `python -m harness.train`, one run into a folder (`__main__`).

May import `harness.config` and everything below it; never tracking, the report or the sweep: the
loop reports through callbacks and never names a variant.
"""
