"""`EpochRecord`: one finished epoch's metrics, free of keras so that any process can read it.

A Ray head receives the records its actors send without importing keras or torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class EpochRecord:
    """Metrics of one finished epoch."""

    epoch: int
    """Epoch number, from 1."""
    loss: float
    """Mean training loss."""
    accuracy: float
    """Training accuracy."""
    val_loss: float
    """Validation loss."""
    val_accuracy: float
    """Validation accuracy."""
    seconds: float
    """Wall time of the epoch, validation included."""
    images_per_second: float
    """Training images per second of the epoch's training phase."""

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict."""
        return asdict(self)
