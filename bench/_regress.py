"""The regression guard: this run's figures against the last committed ones, slowdowns flagged.

``python -m bench`` (so ``make bench`` and ``make bench-quick``) compares every results file a
suite wrote (``bench/results/*.json``) with the same file as last committed (``git show
HEAD:bench/results/NAME.json``) and prints one line per figure that is slower by more than
:data:`THRESHOLD`. It is a benchmark-level check, not a timed test: the machine is shared, so a
flag is a prompt to rerun and look, and the exit status only changes with ``--fail-on-regression``.

The results files have different shapes, so figures are found generically: every number in the
JSON gets a path (list items are named by their identifying fields, such as ``scenario`` or
``concurrency``, not by position), and the last part of the path says which way is better:
rates (``*_per_second``, ``*_per_s``, ``*_rps``, ``*_mb_s``, ``*_per_cpu_s``) are better higher;
times, CPU and memory (``*_s``, ``*_ms``, ``*_us``, ``*_mb``, ``*_bytes*``, ``api_requests``) are
better lower. Settings (durations, sizes), targets, machine data, load averages, individual
trials and unnamed rounds are skipped; only figures present in both files are compared. The
slowdown of a rate is ``old / new`` and of a cost ``new / old``, so a 20 % slowdown means the
same for both.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final, final

import attrs

THRESHOLD: Final = 0.20

#: Objects under these keys are not figures of this run's code: the machine, the bars it is held
#: to, per-trial and per-round detail (their medians are compared instead), plot data.
SKIP_KEYS: Final = frozenset(
    {
        "machine",
        "targets",
        "bars",
        "trials",
        "curve",
        "cdf",
        "samples",
        "python_runs",
        "go_runs",
        "go_json_runs",
        "control_plane",
        "contenders",
        "failed_contenders",
        "profile",
        "cycles",
    }
)
#: Numbers that are settings or circumstances, not measurements.
SETTING_KEYS: Final = frozenset(
    {
        "duration_s",
        "warmup_s",
        "cap_s",
        "hold_s",
        "window_s",
        "n",
        "rate",
        "pods",
        "events",
        "reps",
        "megabytes",
        "concurrency",
        "target",
    }
)
#: Fields that name a list item (all of them that it has, in this order).
ID_KEYS: Final = ("scenario", "variant", "client", "scheme", "concurrency", "label", "name")

_HIGHER: Final = ("_per_second", "_per_sec", "_per_s", "_rps", "_mb_s", "_per_cpu_s")
_LOWER: Final = (
    "_s",
    "_seconds",
    "_ms",
    "_us",
    "_mb",
    "_bytes",
    "_cores",
    "_per_pod",
    "_per_request",
    "_per_event",
)
_LOWER_EXACT: Final = frozenset({"api_requests", "slowdown_vs_floor", "create_us", "delete_us"})


def direction(key: str) -> int:
    """+1 if a larger ``key`` is better, -1 if a smaller one is, 0 if it is not a figure."""
    if key in SETTING_KEYS or key.startswith("load_average") or "ratio" in key:
        return 0
    if key in _LOWER_EXACT:
        return -1
    if key.endswith(_HIGHER) or key.startswith("pods_per_s"):
        return 1
    if key.endswith(_LOWER) or "_per_1000" in key or key.startswith("latency_"):
        return -1
    return 0


def _item_name(item: Mapping[str, Any]) -> str | None:
    parts = [f"{k}={item[k]}" for k in ID_KEYS if k in item and not isinstance(item[k], dict)]
    return "[" + ",".join(parts) + "]" if parts else None


def figures(data: Any, prefix: str = "") -> Iterator[tuple[str, str, float]]:
    """(path, last key, value) for every number in ``data`` outside the skipped parts."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            if key in SKIP_KEYS:
                continue
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, bool):
                continue
            if isinstance(value, int | float):
                yield path, str(key), float(value)
            else:
                yield from figures(value, path)
    elif isinstance(data, list):
        # Objects without an identifying field are rounds of one measurement (their summary is
        # compared elsewhere); matching them by position would compare noise with noise.
        for item in data:
            name = _item_name(item) if isinstance(item, Mapping) else None
            if name is not None:
                yield from figures(item, prefix + name)


@final
@attrs.frozen
class Change:
    """One figure in both runs; ``slowdown`` > 0 means this run is slower by that fraction."""

    path: str
    old: float
    new: float
    slowdown: float

    @property
    def flagged(self) -> bool:
        return self.slowdown > THRESHOLD


def compare(old: Any, new: Any) -> list[Change]:
    """Every figure found in both ``old`` and ``new``, with its slowdown (worst first)."""
    before = {path: (key, v) for path, key, v in figures(old)}
    out = []
    for path, key, v in figures(new):
        if path not in before:
            continue
        sense = direction(key)
        old_v = before[path][1]
        if sense == 0 or old_v <= 0 or v <= 0:
            continue
        slowdown = old_v / v - 1.0 if sense > 0 else v / old_v - 1.0
        out.append(Change(path, old_v, v, slowdown))
    return sorted(out, key=lambda c: -c.slowdown)


def committed(path: Path) -> Any | None:
    """The JSON of ``path`` as last committed (``git show HEAD:...``), or ``None``."""
    try:
        root = subprocess.run(
            ["git", "-C", str(path.parent), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
        rel = path.resolve().relative_to(Path(root).resolve())
        shown = subprocess.run(
            ["git", "-C", root, "show", f"HEAD:{rel.as_posix()}"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    try:
        return json.loads(shown)
    except ValueError:
        return None


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def report(name: str, old: Any | None, new: Any) -> tuple[list[str], int]:
    """Lines comparing ``new`` with the committed ``old`` of results file ``name``, and how
    many figures are flagged."""
    if old is None:
        return [f"regress: {name}: no committed results to compare with"], 0
    changes = compare(old, new)
    flagged = [c for c in changes if c.flagged]
    when = old.get("when") if isinstance(old, Mapping) else None
    head = (
        f"regress: {name}: {len(changes)} figures compared with the last committed results"
        + (f" (measured {when})" if when else "")
        + f"; {len(flagged)} slower by more than {THRESHOLD:.0%}"
    )
    if (
        isinstance(old, Mapping)
        and isinstance(new, Mapping)
        and old.get("quick") != new.get("quick")
    ):
        head += " (one of the two is a --quick run: sizes differ, read as indicative)"
    lines = [head]
    lines += [
        f"regress:   SLOWER {c.slowdown:+.0%}  {c.path}: {_fmt(c.old)} -> {_fmt(c.new)}"
        for c in flagged
    ]
    if changes and not flagged:
        worst = changes[0]
        lines.append(
            f"regress:   worst {worst.slowdown:+.0%}  {worst.path}: "
            f"{_fmt(worst.old)} -> {_fmt(worst.new)}"
        )
    return lines, len(flagged)


def snapshot(results_dir: Path) -> dict[Path, float]:
    """Modification times of the results files, to see which ones a suite wrote."""
    return {p: p.stat().st_mtime for p in results_dir.glob("*.json")}


def written_since(results_dir: Path, before: Mapping[Path, float]) -> list[Path]:
    """Results files created or changed since ``before`` was taken."""
    now = snapshot(results_dir)
    return sorted(p for p, t in now.items() if before.get(p) != t)
