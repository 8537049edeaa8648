"""NeighborIndex vs exact search (numpy) vs faiss HNSW: build time, queries/s and
recall@10 on 100k x 64 and 100k x 512 random and encoded-like latents, JSON out (the work
is in latentatlas.bench.index; ``latentatlas bench --only index`` runs the same). In a
checkout the results go to bench/results/index.json unless --out says otherwise.

    python bench/bench_index.py [--quick] [--dims 64 512] [--configs 16:100 32:200] [--out PATH]
"""

import os
import sys

from latentatlas.bench.index import main

if __name__ == "__main__":
    sys.exit(main(default_out=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "index.json")))
