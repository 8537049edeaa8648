"""Kernel benchmark: latentatlas vs numpy, torch eager and torch.compile (see latentatlas.bench_kernels).

    python bench/bench_kernels.py [--quick] [--threads N] [--json PATH] [--no-compile]
"""
from latentatlas.bench_kernels import main

raise SystemExit(main())
