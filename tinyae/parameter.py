"""Parameter: a trainable array and its gradient."""
from __future__ import annotations

from . import backend


class Parameter:
    """A trainable array ``data`` and its gradient ``grad`` (same shape, same dtype).

    How ``.grad`` is written (one rule, used by every layer):

    * ``forward`` starts a new pass: it marks the parameters it uses as *stale*.
    * The first gradient contribution after that *replaces* ``.grad``;
      later contributions in the same pass *add* to it.

    So a single forward/backward leaves exactly that pass's gradient in ``.grad``
    (no ``zero_grad()`` needed between steps), and a Parameter used twice in one
    pass — the tied decoder ``DenseTied`` reuses its encoder's ``W`` — receives the
    sum of both contributions, as the chain rule requires. ``zero_grad()`` sets
    ``.grad`` to zeros (optimizers offer it for familiarity; training never needs it).
    """

    __slots__ = ("data", "grad", "name", "_stale")

    def __init__(self, data, name: str = ""):
        self.data = data
        self.grad = backend.xp.zeros_like(data)
        self.name = name
        self._stale = True

    @property
    def shape(self):
        return self.data.shape

    @property
    def size(self) -> int:
        return int(self.data.size)

    def start_pass(self) -> None:
        """Called by a layer's forward: the next gradient contribution replaces ``.grad``."""
        self._stale = True

    def accumulate(self, grad) -> None:
        """Add one contribution to ``.grad`` (replacing it if it is the first of this pass).

        ``grad`` must be a fresh array that nothing else holds (the result of a
        matrix product or a reduction): it is stored, not copied.
        """
        if self._stale:
            self.grad = grad
            self._stale = False
        else:
            self.grad = self.grad + grad

    def zero_grad(self) -> None:
        """Set ``.grad`` to zeros; the next contributions add to it."""
        self.grad = backend.xp.zeros_like(self.data)
        self._stale = False

    def __repr__(self) -> str:
        return f"Parameter({self.name or '?'}, shape={tuple(self.data.shape)}, dtype={self.data.dtype})"
