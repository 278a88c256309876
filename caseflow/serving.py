"""What a process that serves requests does once its application is loaded: gunicorn's
workers call `settle_worker` (caseflow/gunicorn_conf.py, and bench/load.py's server, which
mirrors it).

Python's cyclic garbage collector, left at its defaults, runs a young collection every 700
allocations and now and then a full one over every object of the process: the modules,
SQLAlchemy's mappings and compiled statements, the templates, some hundreds of thousands of
objects that live as long as the worker. Measured through `bench/request_cost.py`, that was
about 0.45 ms of CPU per request on average (107 collections in some 310 requests, the
full ones several milliseconds each). What a request allocates is almost all freed by reference
counting when it ends; the collector only finds cycles, and a request leaves few.

So, once loaded, the worker's objects are moved out of the collector's sight (`gc.freeze`:
they are still freed by reference counting; they would never be found in a cycle to collect
anyway) and young collections run every 10,000
allocations: 6 collections instead of 107, over much less: 0.05 ms per request. The
memory a cycle holds is freed a little later; a request's cycles are small, so the worker's
size does not change in a way that counts (a young collection still runs every fifty
requests or so).
"""

from __future__ import annotations

import gc

# Young collections every 10,000 allocations (Python's default: 700); older generations as
# Python does by default, relative to the young one.
COLLECTION_THRESHOLDS = (10_000, 10, 10)


def settle_worker() -> None:
    """Freeze what the process holds now and space the collector's runs out."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*COLLECTION_THRESHOLDS)
