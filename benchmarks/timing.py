"""Shared timing helpers: threads, device, synchronized blocks, interleaved repeats, medians, tables.

Every benchmark times *blocks* of many steps (one perf_counter pair per block, not per step),
repeats each block several times and reports the median, and interleaves the contenders
(A B A B ...) so that drift on a shared machine (another job starting, thermal throttling)
hits every contender alike instead of whichever happened to run last.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parent.parent  # config paths (experiments/...) are relative to it

Block = Callable[[], None]  # runs one block of steps


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def set_threads(threads: int | None) -> int:
    """Pin torch's intra-op threads explicitly (default: the available cores); returns the count.

    Left alone, torch picks its own count, which differs between machines and library builds
    and would make two runs of the same benchmark incomparable.
    """
    torch.set_num_threads(threads or available_cores())
    return torch.get_num_threads()


def pick_device(name: str) -> torch.device:
    """`auto` is CUDA when present; an explicit `cuda` without one is an error, never a silent CPU run."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda, but torch.cuda.is_available() is False")
    return torch.device(name)


def sync(device: torch.device) -> None:
    """Wait for queued GPU work: CUDA kernels run asynchronously, so an unsynchronized clock
    would time the launches, not the work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def repeated(step: Callable[[], object], times: int) -> Block:
    """A block that runs `step` `times` times."""

    def block() -> None:
        for _ in range(times):
            step()

    return block


def time_block(block: Block, device: torch.device) -> float:
    """Seconds one block takes, with the device synchronized on both sides."""
    sync(device)
    start = time.perf_counter()
    block()
    sync(device)
    return time.perf_counter() - start


def interleaved(blocks: dict[str, Block], repeats: int, device: torch.device) -> dict[str, list[float]]:
    """One untimed warm-up round, then `repeats` rounds of every block in turn (A B C A B C ...)."""
    for block in blocks.values():
        time_block(block, device)
    seconds: dict[str, list[float]] = {name: [] for name in blocks}
    for _ in range(repeats):
        for name, block in blocks.items():
            seconds[name].append(time_block(block, device))
    return seconds


def median_ms(seconds: Sequence[float], steps_per_block: int) -> float:
    """Median over the repeats of milliseconds per step (the median shrugs off one disturbed block)."""
    return 1000.0 * statistics.median(seconds) / steps_per_block


def paired_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """Median over the rounds of numerator/denominator, each pair from the same round.

    Interleaved rounds run side by side in time, so a slow spell on a shared machine slows both
    blocks of a round alike and cancels in their ratio; the median then drops a round where it
    hit only one of them. (A ratio of the two medians can pair blocks from different spells.)
    """
    if len(numerators) != len(denominators) or not numerators:
        raise ValueError("paired_ratio needs two equally long, non-empty lists of block times")
    return statistics.median(a / b for a, b in zip(numerators, denominators))


def parse_with_quick(parser: argparse.ArgumentParser, argv: list[str] | None,
                     quick: dict[str, Any]) -> argparse.Namespace:
    """Parse; with --quick, parse again with `quick` as the defaults, so explicit flags still win."""
    args = parser.parse_args(argv)
    if args.quick:
        parser.set_defaults(**quick)
        args = parser.parse_args(argv)
    return args


def parse_list(text: str, allowed: Sequence[str], flag: str) -> list[str]:
    """A comma-separated flag value, every item checked against `allowed`."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in items if item not in allowed]
    if unknown or not items:
        raise SystemExit(f"error: {flag} {text!r}: allowed: {', '.join(allowed)}")
    return items


def round_up(steps: int, multiple: int) -> int:
    return max(multiple, -(-steps // multiple) * multiple)


def cpu_model() -> str:
    """The CPU's marketing name (Linux /proc/cpuinfo), else what the platform module knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment_lines(device: torch.device, threads: int) -> list[str]:
    """Where the numbers come from: they mean nothing without the machine and library versions."""
    gpu = f", {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""
    return [f"device: {device.type}{gpu}; CPU: {cpu_model()}; torch threads: {threads} "
            f"(of {available_cores()} available cores); torch {torch.__version__}, "
            f"python {platform.python_version()}, {platform.machine()}"]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table with padded columns: readable in a terminal, pastable into RESULTS.md."""
    cells = [[str(h) for h in headers]] + [[cell_text(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def print_results(headers: Sequence[str], rows: Sequence[Sequence[object]], last_line: str | None = None) -> None:
    """The table after a blank line, then the verdict line (when given) after another: a script's ending."""
    print()
    print(table(headers, rows))
    if last_line is not None:
        print()
        print(last_line)


def cell_text(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)
