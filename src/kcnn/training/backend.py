"""Import keras on the torch backend, whatever the user's environment says.

Users never have to export ``KERAS_BACKEND``: kcnn sets it before keras is
first imported. Import keras through `import_keras` only, and only where a
model is built or trained (importing it costs seconds).
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

from kcnn.errors import KcnnError


def import_keras() -> ModuleType:
    """Return the `keras` module, running on the torch backend.

    Raises:
        KcnnError: If keras was already imported with another backend in this process.
    """
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != "torch":
            raise KcnnError(
                f"keras was already imported with the {keras.backend.backend()!r} backend; kcnn needs 'torch'. "
                "Import kcnn before keras, or set KERAS_BACKEND=torch."
            )
        return keras
    os.environ["KERAS_BACKEND"] = "torch"
    import keras

    return keras
