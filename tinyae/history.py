"""History: the per-epoch figures of a training run (what ``fit`` returns and checkpoints keep).

Every figure is a mean over the epoch's samples (training) or over the validation set
(after the epoch), in the units of the loss (``units``: "per pixel" for the default
means, "per image" for the VAE's summed BCE). When the model adds penalties to the
objective (an activity L1, a KL term), three figures are kept apart:

* ``data_loss``: the loss of the output against the target,
* ``penalty``: the sum of the layers' penalties,
* ``loss``: the objective that was minimised, their sum (the figure the progress bar shows).

The same split is kept for the validation data (``val_data_loss``, ``val_penalty``,
``val_loss``). Without penalties, ``penalty`` is all zeros and ``loss`` equals ``data_loss``.
"""
from __future__ import annotations

import json

FIELDS = ("epochs", "loss", "data_loss", "penalty", "val_loss", "val_data_loss", "val_penalty", "seconds", "lr")


class History:
    """Per-epoch figures: ``loss`` (the objective), ``data_loss``, ``penalty``, their ``val_`` twins,
    ``seconds`` and ``lr``."""

    def __init__(self, loss_name: str = "mse", units: str = "per pixel"):
        self.loss_name = loss_name
        self.units = units
        for field in FIELDS:
            setattr(self, field, [])

    def append(self, epoch, loss, val_loss, seconds, lr, data_loss=None, penalty=0.0, val_data_loss=None,
               val_penalty=0.0):
        """Add one epoch. ``loss`` is the objective (data term + penalty); ``data_loss`` defaults to it."""
        self.epochs.append(epoch)
        self.loss.append(loss)
        self.data_loss.append(loss - penalty if data_loss is None else data_loss)
        self.penalty.append(penalty)
        if val_loss is not None:
            self.val_loss.append(val_loss)
            self.val_data_loss.append(val_loss - val_penalty if val_data_loss is None else val_data_loss)
            self.val_penalty.append(val_penalty)
        self.seconds.append(seconds)
        self.lr.append(lr)

    @property
    def has_penalty(self) -> bool:
        return any(p != 0.0 for p in self.penalty)

    def to_dict(self) -> dict:
        return {"loss_name": self.loss_name, "units": self.units, **{f: getattr(self, f) for f in FIELDS}}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        """A History from ``to_dict()`` output; a dict from before the penalties existed (no
        ``data_loss``) reads as data term = objective, penalty 0."""
        h = cls(d.get("loss_name", "mse"), d.get("units", "per pixel"))
        for field in FIELDS:
            setattr(h, field, list(d.get(field, [])))
        if not h.data_loss and h.loss:
            h.data_loss, h.penalty = list(h.loss), [0.0] * len(h.loss)
        if not h.val_data_loss and h.val_loss:
            h.val_data_loss, h.val_penalty = list(h.val_loss), [0.0] * len(h.val_loss)
        return h

    def save(self, path) -> None:
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=2)

    def __repr__(self):
        last = f", last loss {self.loss[-1]:.5f} {self.units}" if self.loss else ""
        return f"History({len(self.loss)} epochs{last})"
