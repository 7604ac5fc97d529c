# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Make the documentation's benchmark page from full benchmark runs.

1. One run per cap, e.g.
   ``mne-deepinverse benchmark --n-samples 1000 --out-dir benchmarks/results/c31``
   and ``... --montage colin27_1020 --out-dir benchmarks/results/colin27_1020``
   (likewise ``biosemi64``, ``GSN-HydroCel-128``)
2. ``python tools/make_results_page.py benchmarks/results/c31
   benchmarks/results/colin27_1020 ...``

copies the JSON and figures of each run to ``doc/_static/benchmark/`` (one
folder per run when there are several, listed in order in ``runs.txt``) and
writes ``doc/benchmark_results.rst`` from the JSON: one section per cap
(``doc/conf.py`` rewrites it from the same files at every build).
"""

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "doc" / "sphinxext"))  # the page generators

from results_page import write_results_page  # noqa: E402


def main():
    """Copy benchmark runs into the docs and write the results page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="+",
                        help="folder(s) of benchmark runs, one per cap")
    args = parser.parse_args()
    several = len(args.results) > 1
    static = ROOT / "doc" / "_static" / "benchmark"
    jsons, figures = [], []
    for results in args.results:
        dest = static / results.name if several else static
        rel = f"_static/benchmark/{results.name}/" if several else "_static/benchmark/"
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(results / "benchmark.json", dest / "benchmark.json")
        jsons.append(dest / "benchmark.json")
        figs = []
        for fig in sorted(results.glob("benchmark_*.png")):
            shutil.copyfile(fig, dest / fig.name)
            figs.append(rel + fig.name)
        figures.append(figs)
    runs = static / "runs.txt"  # the order of the sections, for doc/conf.py
    if several:
        runs.write_text("\n".join(r.name for r in args.results) + "\n")
    else:
        runs.unlink(missing_ok=True)
    page = write_results_page(jsons if several else jsons[0],
                              ROOT / "doc" / "benchmark_results.rst",
                              figures=figures if several else figures[0])
    print(f"Wrote {page}")


if __name__ == "__main__":
    main()
