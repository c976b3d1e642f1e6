"""The layout of an image folder (`data.name: folder`): its classes and files, read without decoding.

Symlinks are followed only where they stay inside `data.root`: a link out of it (to a parent, to
`/`, anywhere else) is not followed, nor a class folder that leads back to `data.root` itself, nor
a folder already being read (a loop). Links that are not followed are named in one warning line,
or in the error when nothing usable is left; a `data.root` that is itself a symlink loop is refused.
Hidden files and folders (a name starting with '.') are ignored.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


@dataclass(frozen=True)
class Layout:
    classes: tuple[str, ...] | None  # None: flat and unlabelled
    files: tuple[Path, ...]  # sorted within each class, classes in order
    labels: tuple[int, ...]
    not_followed: tuple[str, ...] = field(default=())  # symlinks that lead out of data.root or back into a parent


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def resolve_root(root: str) -> Path:
    """`data.root` as an absolute path with its symlinks resolved; a symlink loop is one line."""
    try:
        return Path(root).expanduser().resolve()
    except (RuntimeError, OSError) as exc:  # Python 3.11 says RuntimeError("Symlink loop"), 3.13 OSError(ELOOP)
        raise UserError(f"data.root: '{root}' is a symlink loop ({exc}); point it at a real folder") from None


def target_of(link: Path) -> Path | None:
    """Where a symlink leads, or None for a loop or a dangling link."""
    try:
        target = link.resolve(strict=True)
    except (RuntimeError, OSError):
        return None
    return target


def strictly_inside(path: Path, root: Path) -> bool:
    return root in path.parents


def not_followed_note(links: list[str] | tuple[str, ...]) -> str:
    """The sentence about symlinks left out, for a warning or an error (empty when there are none)."""
    if not links:
        return ""
    shown = ", ".join(f"'{name}'" for name in links[:3]) + (", ..." if len(links) > 3 else "")
    return (f"not following {len(links)} symlink(s) that lead out of data.root, back into it or nowhere: "
            f"{shown}")


def walk_images(folder: Path, root: Path, not_followed: list[str]) -> list[Path]:
    """Image files under `folder`, sorted, following symlinks only where they stay inside `root`."""
    files: list[Path] = []
    seen = {folder.resolve()}  # a link back to a folder being read would read it again (or forever)
    pending = [folder]
    while pending:
        current = pending.pop()
        for entry in current.iterdir():
            if entry.name.startswith("."):
                continue
            target = target_of(entry) if entry.is_symlink() else entry.resolve()
            if target is None or not strictly_inside(target, root) or (target.is_dir() and target in seen):
                not_followed.append(str(entry.relative_to(root)))
            elif target.is_dir():
                seen.add(target)
                pending.append(entry)
            elif target.is_file() and is_image(entry):
                files.append(entry)
    return sorted(files)


def class_files(folder: Path, root: Path, not_followed: list[str]) -> list[Path]:
    files = walk_images(folder, root, not_followed)
    if not files:
        raise UserError(f"data.root: class folder '{folder}' holds no images ({', '.join(IMAGE_SUFFIXES)})")
    if len(files) < 2:
        raise UserError(f"data.root: class folder '{folder}' has 1 image; a held-out split needs at least 2 per class")
    return files


def top_entries(top: Path, not_followed: list[str]) -> tuple[list[Path], list[Path]]:
    """(class folders, image files) directly under `top`; a link out of it or back to it is left out."""
    folders, images = [], []
    for entry in sorted(p for p in top.iterdir() if not p.name.startswith(".")):
        target = target_of(entry) if entry.is_symlink() else entry
        if target is None or (entry.is_symlink() and not strictly_inside(target, top)):
            not_followed.append(entry.name)
        elif target.is_dir():
            folders.append(entry)
        elif target.is_file() and is_image(entry):
            images.append(entry)
    return folders, images


@functools.lru_cache(maxsize=8)
def scan(root: str) -> Layout:
    """The folder's layout and files (`root` resolved); one-line errors naming the path for anything unusable."""
    top = Path(root)
    if not top.is_dir():
        raise UserError(f"data.root: '{top}' is not a folder (data.name folder reads images from it)")
    not_followed: list[str] = []
    folders, images = top_entries(top, not_followed)
    note = not_followed_note(not_followed)
    if folders and images:
        raise UserError(f"data.root: '{top}' mixes image files ('{images[0].name}') with class sub-folders "
                        f"('{folders[0].name}/'); use one layout: only sub-folders, or only images")
    if not folders and not images:
        raise UserError(f"data.root: '{top}' holds no images ({', '.join(IMAGE_SUFFIXES)}) and no class sub-folders"
                        + (f" ({note})" if note else ""))
    if not folders:
        if len(images) < 2:
            raise UserError(f"data.root: '{top}' has 1 image; a held-out split needs at least 2")
        return warned(Layout(None, tuple(images), (0,) * len(images), tuple(not_followed)), top)
    per_class = [class_files(folder, top, not_followed) for folder in folders]
    labels = tuple(i for i, files in enumerate(per_class) for _ in files)
    layout = Layout(tuple(f.name for f in folders), tuple(p for files in per_class for p in files), labels,
                    tuple(not_followed))
    return warned(layout, top)


def warned(layout: Layout, top: Path) -> Layout:
    """Say once (scan is cached) which symlinks were left out of a usable folder."""
    if layout.not_followed:
        print(f"warning: data.root: '{top}': {not_followed_note(layout.not_followed)}", file=sys.stderr, flush=True)
    return layout
