"""The ``latentatlas`` subcommands, one module each, each with a ``register(subparsers)``.

These modules import only the standard library at import time; every handler imports
torch, numpy and the rest of latentatlas when it runs, so ``latentatlas --help`` and
``latentatlas info`` start without loading torch. :mod:`._common` holds the arguments and
checks the commands share (data sets, models, devices, stores, number lists, outputs).
"""
