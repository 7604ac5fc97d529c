# Authors: The mne-deepinverse developers
# License: BSD-3-Clause
# Copyright the mne-deepinverse contributors.
"""Recompute the statistics of the documented benchmark runs from their records.

The paired tests of ``BenchmarkResult.statistics`` run through
:func:`scipy.stats.permutation_test` since 0.1; runs saved before that carry
p-values of the package's former sign-flip loop (the same test, other random
draws). This script recomputes the ``statistics`` of every run listed in
``doc/_static/benchmark/runs.txt`` from its stored per-sample records (the
records and summaries are left as they are)::

    python tools/restat_benchmarks.py
"""

import json
import sys
from pathlib import Path

from mne_deepinverse.benchmark import BenchmarkResult

STATIC = Path(__file__).resolve().parents[1] / "doc" / "_static" / "benchmark"


def main():
    """Rewrite the statistics of each documented run."""
    for name in (STATIC / "runs.txt").read_text().split():
        fname = STATIC / name / "benchmark.json"
        data = json.loads(fname.read_text())
        result = BenchmarkResult(data["records"], data["config"], {})
        data["statistics"] = result.statistics()
        with open(fname, "w") as fid:
            json.dump(data, fid, indent=1, default=float)
        print(f"{fname.relative_to(STATIC.parents[2])}: statistics recomputed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
