"""Fill a store with finished runs that have repeats (2 kernels × 2 dilations × 3 seeds), as workers leave them.

Usage: python .ci/effects_store.py STORE. The core-install check (`.ci/core_install_check.sh`) then asks
`kcnn effects` for its table on it, in a venv with nothing but torch and kcnn's own dependencies.
"""

import sys

from kcnn.config import ExperimentConfig
from kcnn.contract import EpochRecord
from kcnn.store import Store

ACCURACIES = {
    (2, 1): [0.61, 0.63, 0.62],
    (2, 2): [0.70, 0.72, 0.74],
    (3, 1): [0.58, 0.60, 0.59],
    (3, 2): [0.66, 0.65, 0.69],
}

with Store(sys.argv[1]) as store:
    for (kernel, dilation), values in ACCURACIES.items():
        for seed, best in enumerate(values):
            [added] = store.add_runs([ExperimentConfig(kernel_size=kernel, dilation=dilation, seed=seed, epochs=1)])
            claim = store.claim("ci", run_id=added.run_id)
            store.record_epoch(claim, EpochRecord(epoch=1, val_accuracy=best, seconds=1.0, images_per_second=100.0))
            store.finish(claim)
