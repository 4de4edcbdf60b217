"""Which training loop the suite expects kcnn's models to train with."""

import os

#: The torch loop, unless the suite runs with KCNN_TRAIN_LOOP=fit (`nox -s tests_fit`), which stands for a
#: Keras release whose layer maths the loop's probe rejects: everything must still pass with `fit`.
EXPECTED_LOOP = "fit" if os.environ.get("KCNN_TRAIN_LOOP", "").strip().lower() == "fit" else "torch"
