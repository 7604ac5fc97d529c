# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Make the documentation's benchmark page from a full benchmark run.

1. ``mne-deepinverse benchmark --n-samples 1000 --out-dir benchmarks/results/full``
2. ``python tools/make_results_page.py benchmarks/results/full``

copies the JSON and figures to ``doc/_static/benchmark/`` and writes
``doc/benchmark_results.rst`` from the JSON.
"""

import argparse
import shutil
from pathlib import Path

from mne_deepinverse.benchmark import write_results_page

ROOT = Path(__file__).resolve().parents[1]


def main():
    """Copy a benchmark run into the docs and write the results page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="folder of a benchmark run")
    args = parser.parse_args()
    static = ROOT / "doc" / "_static" / "benchmark"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.results / "benchmark.json", static / "benchmark.json")
    figures = []
    for fig in sorted(args.results.glob("benchmark_*.png")):
        shutil.copyfile(fig, static / fig.name)
        figures.append(f"_static/benchmark/{fig.name}")
    page = write_results_page(static / "benchmark.json",
                              ROOT / "doc" / "benchmark_results.rst", figures=figures)
    print(f"Wrote {page}")


if __name__ == "__main__":
    main()
