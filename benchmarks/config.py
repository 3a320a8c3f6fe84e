"""Config hardening benchmark: how long hostile config files take to be refused, and a big good one to load.

    .venv/bin/python benchmarks/config.py

Each case writes a file and times ``load_config`` on it (best of 5): a billion-laughs alias bomb, a
file one byte over the cap, one just under the cap that is valid, one just under the cap full of YAML
values (the parser's worst case here), deep nesting, and the example config.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bot.config import ConfigError, load_config
from bot.config.file import MAX_BYTES

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.yaml"


def bomb(levels: int = 9) -> str:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nccci: {{runs_dir: *l{levels - 1}}}\n"


def big_valid() -> str:
    """A valid config padded with comments up to the cap (the parser still reads every byte)."""
    head = EXAMPLE.read_text(encoding="utf-8")
    filler = "# " + "x" * 97 + "\n"
    return head + filler * ((MAX_BYTES - len(head.encode())) // len(filler))


def timed(path: Path) -> tuple[float, str]:
    best, outcome = float("inf"), ""
    for _ in range(5):
        start = time.perf_counter()
        try:
            load_config(path)
            outcome = "loaded"
        except ConfigError as exc:
            outcome = "refused: " + str(exc).removeprefix(f"{path}: ")[:70]
        best = min(best, time.perf_counter() - start)
    return best, outcome


def main() -> None:
    cases = {
        "alias bomb (9 levels x 9: 387M values)": bomb(),
        "one byte over the cap": "#" * MAX_BYTES + "\n",
        "valid, just under the cap": big_valid(),
        "small mappings up to the cap": "junk:\n" + "- {a: 1, b: 2}\n" * (MAX_BYTES // 16),
        "nested 900 deep": "x: " + "[" * 900 + "]" * 900 + "\n",
        "config.example.yaml": EXAMPLE.read_text(encoding="utf-8"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in cases.items():
            path = Path(tmp) / "config.yaml"
            path.write_text(text, encoding="utf-8")
            seconds, outcome = timed(path)
            print(f"{name:42} {path.stat().st_size:>9} B  {seconds * 1000:8.2f} ms  {outcome}")


if __name__ == "__main__":
    main()
