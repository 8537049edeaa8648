"""``latentatlas serve`` under load: batching on vs --max-batch 1 at concurrency 1, 8, 32
and 128, then an overload phase; JSON out, a table printed (the work is in
latentatlas.bench.serve; ``latentatlas bench --only serve`` runs the same). In a checkout
the results go to bench/results/serve.json unless --out says otherwise.

    python bench/bench_serve.py [--seconds 3] [--concurrency 1 8 32 128] [--model digits-vae] [--out PATH]
"""

import os
import sys

from latentatlas.bench.serve import main

if __name__ == "__main__":
    sys.exit(main(default_out=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "serve.json")))
