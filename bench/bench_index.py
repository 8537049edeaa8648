"""NeighborIndex vs exact search (numpy) vs faiss HNSW: build time, queries/s and
recall@10 on 100k x 64 and 100k x 512 random and encoded-like latents, JSON out.

    python bench/bench_index.py --out bench/results/index.json

The work is in latentatlas.bench_index (importable, tested); see its docstring.
"""

import sys

from latentatlas.bench_index import main

if __name__ == "__main__":
    sys.exit(main())
