"""Your own image folder: both layouts, resize and crop, the recorded split, every error path in one line."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from harness.config.resolve import DataConfig, parse_experiment, resolve_run
from harness.data import dataset_entry, load_dataset
from harness.data import folder as folder_module
from harness.data.base import stratified_holdout
from harness.data.images import to_device
from harness.core.errors import ConfigError, UserError
from tests.conftest import TINY, deep_merge
from tests.image_folders import digit_pixels, write_class_folders, write_flat_folder, write_png_bomb

CPU = torch.device("cpu")


def load(root: Path, size: int = 12, channels: int | None = None):
    return load_dataset(DataConfig(name="folder", root=str(root), image_size=size, channels=channels), CPU)


def one_line_error(root: Path, **data) -> str:
    with pytest.raises(UserError) as info:
        load_dataset(DataConfig(name="folder", root=str(root), image_size=12, **data), CPU)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_class_sub_folders_are_labels_in_sorted_order_with_a_stratified_recorded_split(tmp_path: Path) -> None:
    root = write_class_folders(tmp_path / "digits", per_class=5, classes=3)
    ds = load(root, channels=1)
    assert ds.num_classes == 3 and ds.images.shape == (12, 1, 12, 12) and ds.test_images.shape == (3, 1, 12, 12)
    assert torch.bincount(ds.labels).tolist() == [4, 4, 4] and sorted(ds.test_labels.tolist()) == [0, 1, 2]
    assert ds.info == {"data_train_images": 12.0, "data_test_images": 3.0, "data_split_seed": 0.0,
                       "data_test_fraction": 0.2}
    assert ds.images.min() >= -1 and ds.images.max() <= 1 and ds.images.min() < -0.9 and ds.images.max() > 0.9
    again = load_dataset(DataConfig(name="folder", root=str(root), image_size=12, channels=1, download=True), CPU)
    assert torch.equal(again.test_images, ds.test_images)  # the split is fixed, not drawn per load


def test_pixels_are_the_files_pixels(tmp_path: Path) -> None:
    root = write_class_folders(tmp_path / "d", per_class=2, classes=2)
    ds = load(root, channels=1)
    files = sorted((root / "digit0").iterdir()) + sorted((root / "digit1").iterdir())
    expected = torch.stack([torch.from_numpy(np.array(Image.open(f))).float() / 255 * 2 - 1 for f in files])
    pooled = torch.cat([ds.images, ds.test_images])[:, 0]
    assert all(any(torch.allclose(p, e, atol=1e-6) for e in expected) for p in pooled)


def test_grayscale_becomes_three_equal_channels_and_rgb_becomes_luminance(tmp_path: Path) -> None:
    gray = load(write_flat_folder(tmp_path / "gray", count=4))  # data.channels null: 3
    assert gray.images.shape[1] == 3 and torch.equal(gray.images[:, 0], gray.images[:, 2])
    rgb = load(write_flat_folder(tmp_path / "rgb", count=4, mode="RGBA"), channels=1)
    assert rgb.images.shape[1] == 1


def test_images_are_scaled_on_the_shorter_side_and_center_cropped(tmp_path: Path) -> None:
    wide = np.zeros((10, 40), dtype=np.uint8)
    wide[:, 12:28] = 255  # white around the central 10 x 10 square (columns 15..24), black sides
    for i in range(2):
        Image.fromarray(wide).save(tmp_path / f"{i}.png")
    ds = load(tmp_path, size=8, channels=1)
    assert ds.images.shape == (1, 1, 8, 8)
    assert torch.allclose(ds.images, torch.ones_like(ds.images))  # only the white centre survives the crop


def test_a_flat_folder_is_unlabelled_and_gets_a_label_free_objective(tmp_path: Path) -> None:
    root = write_flat_folder(tmp_path / "flat", count=10)
    ds = load(root)
    assert ds.num_classes is None and ds.labels is None and ds.test_labels is None
    assert ds.images.shape[0] + ds.test_images.shape[0] == 10 and ds.test_images.shape[0] == 2
    run = resolve_run(parse_experiment(deep_merge(TINY, {"data": {"name": "folder", "root": str(root),
                                                                   "image_size": 16}})), "wgan_gp")
    assert run.objective == "swd" and "fd_classifier" not in run.eval.metrics
    assert run.eval.classifier_min_accuracy is None and run.model.arch == "dcgan"


@pytest.mark.parametrize("key, value, message", [
    ("sweep", {"objective": "fd_classifier"}, "sweep.objective: 'fd_classifier' needs labels, which data.name "
                                              "'folder' lacks; allowed: swd, fid, is, "),
    ("eval", {"metrics": ["swd", "kid"]}, "eval.metrics[1]: 'kid' needs labels"),
    ("eval", {"classifier_min_accuracy": 0.5}, "eval.classifier_min_accuracy: 0.5: data.name 'folder' has no labels"),
])
def test_label_metrics_on_an_unlabelled_folder_are_refused_at_load_time(tmp_path: Path, key: str, value: dict,
                                                                        message: str) -> None:
    root = write_flat_folder(tmp_path / "flat", count=4)
    raw = deep_merge(TINY, {"data": {"name": "folder", "root": str(root), "image_size": 16}, key: value})
    with pytest.raises(ConfigError) as info:
        parse_experiment(raw)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_a_labelled_folder_resolves_the_classifier_and_its_default_threshold(tmp_path: Path) -> None:
    root = write_class_folders(tmp_path / "d", per_class=2, classes=2)
    exp = parse_experiment(deep_merge(TINY, {"data": {"name": "folder", "root": str(root), "image_size": 16}}))
    run = resolve_run(exp, "wgan_gp")
    assert run.objective == "fd_classifier" and {"kid", "swd"} <= set(run.eval.metrics)
    assert run.eval.classifier_min_accuracy == dataset_entry(run.data).classifier_min_accuracy
    raw = deep_merge(TINY, {"data": {"name": "folder", "root": str(root), "image_size": 16},
                            "eval": {"classifier_min_accuracy": 0.5}})
    assert resolve_run(parse_experiment(raw), "wgan_gp").eval.classifier_min_accuracy == 0.5


def test_the_size_is_required(tmp_path: Path) -> None:
    root = write_flat_folder(tmp_path / "flat", count=4)
    with pytest.raises(ConfigError, match=r"^data.image_size: null: data.name 'folder' has no native size"):
        parse_experiment(deep_merge(TINY, {"data": {"name": "folder", "root": str(root)}}))


# --- error paths: one line naming the path ------------------------------------------------------------------


def test_a_missing_root(tmp_path: Path) -> None:
    assert one_line_error(tmp_path / "nowhere").startswith(f"data.root: '{tmp_path / 'nowhere'}' is not a folder")


def test_an_empty_root(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no images here")
    assert one_line_error(tmp_path).startswith(f"data.root: '{tmp_path}' holds no images")


def test_an_empty_class_folder(tmp_path: Path) -> None:
    write_class_folders(tmp_path, per_class=2, classes=2)
    (tmp_path / "zzz").mkdir()
    assert one_line_error(tmp_path).startswith(f"data.root: class folder '{tmp_path / 'zzz'}' holds no images")


def test_a_class_with_one_image(tmp_path: Path) -> None:
    write_class_folders(tmp_path, per_class=1, classes=2)
    assert "has 1 image; a held-out split needs at least 2 per class" in one_line_error(tmp_path)
    assert str(tmp_path / "digit0") in one_line_error(tmp_path)


def test_a_mixed_layout(tmp_path: Path) -> None:
    write_class_folders(tmp_path, per_class=2, classes=2)
    write_flat_folder(tmp_path, count=2)
    message = one_line_error(tmp_path)
    assert message.startswith(f"data.root: '{tmp_path}' mixes image files ('0000.png') with class sub-folders")


def test_unreadable_and_oversized_files_are_skipped_with_a_count(tmp_path: Path, capsys) -> None:
    write_class_folders(tmp_path, per_class=3, classes=2)
    (tmp_path / "digit1" / "broken.png").write_bytes(b"not a png at all")
    write_png_bomb(tmp_path / "digit0" / "bomb.png")  # 20000x20000 declared in a few bytes
    write_png_bomb(tmp_path / "digit0" / "big.png", 9000, 9000)  # under PIL's own limit, over ours
    ds = load(tmp_path, channels=1)
    assert ds.images.shape[0] + ds.test_images.shape[0] == 6  # the three skipped files are left out
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"warning: data.root: skipped 3 of 9 files in '{tmp_path}'")
    assert f"(2 over {folder_module.MAX_PIXELS:,} pixels, 1 unreadable)" in err


def test_a_damaged_file_is_skipped_without_a_python_warning_of_its_own(tmp_path: Path, capsys) -> None:
    write_class_folders(tmp_path, per_class=3, classes=2)
    (tmp_path / "digit0" / "tiff.png").write_bytes(b"II*\x00\x08\x00\x00\x00")  # a TIFF header, its tags cut off
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")  # PIL warns "Corrupt EXIF data": a process prints it in two lines
        load(tmp_path, channels=1)
    assert [str(w.message) for w in warned] == []
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "skipped 1 of 7 files" in err and "1 unreadable" in err


def test_a_class_left_without_two_usable_images_is_one_line(tmp_path: Path, capsys) -> None:
    write_class_folders(tmp_path, per_class=2, classes=2)
    (tmp_path / "digit1" / "0000.png").write_bytes(b"")  # an empty file
    message = one_line_error(tmp_path)
    assert message.startswith(f"data.root: class folder '{tmp_path / 'digit1'}' has 1 usable image(s)")
    assert "skipped 1 of 4 files" in message and "1 unreadable" in message
    assert capsys.readouterr().err == ""  # the error says it all: no warning line before it


def test_a_root_that_is_a_symlink_loop_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    assert one_line_error(tmp_path / "loop").startswith(f"data.root: '{tmp_path / 'loop'}' is a symlink loop")


@pytest.mark.parametrize("target", [".", "..", "/"])
def test_a_class_folder_linking_back_or_out_is_not_followed(tmp_path: Path, capsys, target: str) -> None:
    root = write_class_folders(tmp_path / "data", per_class=3, classes=2)
    (root / "extra").symlink_to(target)
    ds = load(root, channels=1)
    assert ds.num_classes == 2 and ds.images.shape[0] + ds.test_images.shape[0] == 6  # no class of duplicates
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not following 1 symlink(s)" in err and "'extra'" in err


def test_links_inside_the_root_are_followed_and_links_out_of_it_are_not(tmp_path: Path, capsys) -> None:
    root = write_class_folders(tmp_path / "data", per_class=3, classes=2)
    outside = write_flat_folder(tmp_path / "elsewhere", count=2)
    (root / "digit0" / "more").symlink_to(root / "digit1")  # inside data.root: followed
    (root / "digit0" / "out.png").symlink_to(outside / "0000.png")  # out of it: not followed
    (root / "digit1" / "again").symlink_to(root / "digit1")  # a loop: not followed
    ds = load(root, channels=1)
    assert ds.images.shape[0] + ds.test_images.shape[0] == 9  # digit0's 3 + digit1's 3 through the link + 3
    err = capsys.readouterr().err
    # the loop is met twice: in digit1, and in digit1 read through digit0/more
    assert "not following 3 symlink(s)" in err and "'digit0/out.png', 'digit0/more/again', 'digit1/again'" in err


def test_a_root_with_only_links_out_of_it_says_so(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (root / "self").symlink_to(".")
    (root / "up").symlink_to("..")
    message = one_line_error(root)
    assert message.startswith(f"data.root: '{root}' holds no images") and "'self', 'up'" in message


def test_a_folder_too_big_for_memory_is_refused_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_flat_folder(tmp_path, count=4)
    monkeypatch.setattr(os, "sysconf", lambda name: 16)  # 16 pages of 16 bytes: 256 bytes free
    monkeypatch.setattr(folder_module, "decode", lambda *a: pytest.fail("decoded before the memory check"))
    message = one_line_error(tmp_path)
    assert message.startswith(f"data.root: the 4 images of '{tmp_path}' need") and "lower data.image_size" in message


def test_running_out_of_device_memory_is_a_one_line_error() -> None:
    class Huge:
        shape = (10**6, 3, 64, 64)

        def to(self, device: str) -> None:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")

        def numel(self) -> int:
            return 10**6 * 3 * 64 * 64

        def element_size(self) -> int:
            return 4

    with pytest.raises(UserError, match=r"^data.name: folder's \(1000000, 3, 64, 64\) images \(45.8 GiB"):
        to_device(Huge(), "cuda", "folder")


def test_the_stratified_holdout_by_hand() -> None:
    labels = np.array([0] * 10 + [1] * 5 + [2] * 1)
    held = stratified_holdout(labels, 0.2, seed=0)
    assert [int(held[labels == c].sum()) for c in range(3)] == [2, 1, 0]  # round(2.0), max(1, round(1.0)), n - 1
    assert np.array_equal(held, stratified_holdout(labels, 0.2, seed=0))
    assert not np.array_equal(held, stratified_holdout(labels, 0.2, seed=1))
    assert digit_pixels(2, 12)[0].shape == (2, 12, 12)


def test_a_relative_root_names_the_folder_of_the_working_directory_each_time(tmp_path: Path, monkeypatch) -> None:
    """One process that runs commands in two folders (as the tests do) must not get the first folder's images
    for the second: the in-process cache is keyed by the absolute root."""
    for name, classes in (("first", 2), ("second", 3)):
        (tmp_path / name).mkdir()
        write_class_folders(tmp_path / name / "imgs", per_class=5, classes=classes)
    monkeypatch.chdir(tmp_path / "first")
    assert load(Path("imgs")).num_classes == 2
    monkeypatch.chdir(tmp_path / "second")
    assert load(Path("imgs")).num_classes == 3
