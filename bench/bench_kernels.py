"""Kernel benchmark: latentatlas vs numpy, torch eager and torch.compile (the work is in
latentatlas.bench.kernels; ``latentatlas bench --only kernels`` runs the same). In a
checkout the results go to bench/results/kernels.json unless --json says otherwise.

    python bench/bench_kernels.py [--quick] [--threads N] [--json PATH] [--no-compile]
"""

import os
import sys

from latentatlas.bench.kernels import main

if __name__ == "__main__":
    sys.exit(main(default_json=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "kernels.json")))
