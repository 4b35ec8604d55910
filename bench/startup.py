"""Start-up cost: `advisor --help` against `python -c "import typer"`.

Both run as fresh interpreters, interleaved, several times; the figure is the
ratio of medians (target <= 1.3). Prints, asserts nothing.

    python bench/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def _time(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    baseline_cmd = [sys.executable, "-c", "import typer"]
    advisor_cmd = [sys.executable, "-m", "advisor", "--help"]
    for cmd in (baseline_cmd, advisor_cmd):  # warm the page cache and .pyc files
        _time(cmd)
    base, ours = [], []
    for _ in range(args.runs):
        base.append(_time(baseline_cmd))
        ours.append(_time(advisor_cmd))
    b, o = statistics.median(base), statistics.median(ours)
    print(f"python -c 'import typer': median {b * 1000:.0f} ms over {args.runs} runs")
    print(f"advisor --help:           median {o * 1000:.0f} ms over {args.runs} runs")
    print(f"ratio: {o / b:.2f} (target <= 1.30)")
    heavy = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.argv=['advisor','--help']\n"
            "from advisor.cli import app\n"
            "try:\n    app(standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            "heavy=('dns','httpx','questionary','exchangelib','rich.table')\n"
            "bad=[m for m in heavy if m in sys.modules]\n"
            "print('HEAVY=' + ','.join(bad))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    found = next((line[6:] for line in heavy if line.startswith("HEAVY=")), "")
    print(f"heavy modules imported by --help: {found or 'none'}")


if __name__ == "__main__":
    main()
