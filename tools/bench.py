"""Run every benchmark of the installed HFM packages; write benchmarks/results.json and benchmarks/results.md.

    python tools/bench.py [--out benchmarks] [--only NAME ...] [--list]

One run, one file: without --only, results.{json,md} are written whole from this run (one commit); with --only, the
run goes to partial/<names>.{json,md} beside them and results.json stays as the last whole run left it.
`nox -s bench` installs every workspace package and runs this. The harness itself lives in
hfm.shared.train.benchmark (also behind `hfm bench`); domains add benchmarks through the `hfm.benchmarks`
entry-point group.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hfm.shared.train.benchmark import discover, run_benchmarks, write_results

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks", help="output folder")
    parser.add_argument(
        "--only",
        action="append",
        help="run only this benchmark (repeatable); written to OUT/partial/<names>.{json,md}, never into results.json",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks found and exit")
    args = parser.parse_args(argv)
    if args.list:
        for benchmark in discover():
            print(f"{benchmark.name}\t{benchmark.target}\t({benchmark.origin})")
        return 0
    results = run_benchmarks(args.only)
    json_path, md_path = write_results(results, args.out)
    print(md_path.read_text())
    print(f"written: {json_path}, {md_path}")
    return 1 if results["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
