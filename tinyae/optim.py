"""Optimizers and learning-rate schedules.

Each ``step()`` applies PyTorch's documented update rule to every Parameter, in
place, from its ``.grad`` (equations O1–O4 in docs/math/dense.md give Adam's, O5–O6 the form computed).
Optimizers keep their state (moments, step count) in ``state_dict()`` so that a
checkpoint can resume training exactly.
"""
from __future__ import annotations

import math

from . import backend
from .parameter import Parameter


class Optimizer:
    """Base class: a list of Parameters, a learning rate and per-parameter state."""

    flush_every = 100       # steps between two flushes of subnormal state to zero (eq. O7)

    def __init__(self, params, lr: float):
        self.params: list[Parameter] = _unique(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got no parameters to optimize")
        if lr <= 0:
            raise ValueError(f"{type(self).__name__}: learning rate must be positive, got {lr}")
        self.lr = float(lr)
        self.t = 0                       # number of steps taken
        self.state: list[dict] = [{} for _ in self.params]
        self._buffers: dict = {}         # scratch space reused between steps (not state: never saved)

    def zero_grad(self) -> None:
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:
        self.t += 1
        for p, state in zip(self.params, self.state):
            self._update(p.data, p.grad, state)
        if self.flush_every and self.t % self.flush_every == 0:
            self.flush_subnormals()

    def flush_subnormals(self) -> None:
        """Set the state (moments, momentum buffers) below the dtype's smallest normal number to zero (eq. O7).

        A moment whose gradient stays 0 (the weights of an MNIST border pixel that is rarely
        lit) decays by β each step until rounding holds it at a few subnormal units
        (k·2⁻¹⁴⁹ · 0.9 rounds back to k·2⁻¹⁴⁹ for k ≤ 4), and every operation on a subnormal
        number is many times slower: measured, a `vae` epoch grew from 3.0 to 5.9 s over
        three epochs, a quarter of the first layer's Adam moments subnormal. The weights do
        not change: such an Adam moment moves its weight by less than η·tiny/ε (1.2e-33 at
        η = 1e-3 in float32).
        """
        for state in self.state:
            for value in state.values():
                xp = backend.get_array_module(value)
                value[xp.abs(value) < xp.finfo(value.dtype).tiny] = 0               # eq. O7

    def _update(self, w, g, state) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        """The state as NumPy arrays and numbers: {"t", "lr", "state": [{name: array}]}."""
        return {"t": self.t, "lr": self.lr,
                "state": [{k: backend.to_numpy(v).copy() for k, v in s.items()} for s in self.state]}

    def _loaded(self, state: dict) -> dict:
        """One parameter's state from ``load_state_dict``, in the names this version keeps it under."""
        return state

    def load_state_dict(self, state: dict) -> None:
        if len(state["state"]) != len(self.params):
            raise ValueError(f"{type(self).__name__}: state has {len(state['state'])} entries, "
                             f"the optimizer has {len(self.params)} parameters")
        self.t, self.lr = int(state["t"]), float(state["lr"])
        self.state = [self._loaded({k: backend.xp.array(v, dtype=p.data.dtype, copy=True) for k, v in s.items()})
                      for s, p in zip(state["state"], self.params)]


class SGD(Optimizer):
    """SGD with optional momentum, Nesterov momentum and (L2) weight decay, as torch.optim.SGD:

    g ← g + λw;  b ← μb + (1 − τ)g (b = g at the first step);  g ← g + μb (Nesterov) or b;  w ← w − ηg
    """

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(params, lr)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
        self.momentum, self.dampening, self.nesterov, self.weight_decay = momentum, dampening, nesterov, weight_decay

    def _update(self, w, g, state):
        if self.weight_decay:
            g = g + self.weight_decay * w
        if self.momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.copy()
            else:
                buf = state["momentum_buffer"]
                buf *= self.momentum
                buf += (1.0 - self.dampening) * g
            buf = state["momentum_buffer"]
            g = g + self.momentum * buf if self.nesterov else buf
        w -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba), as torch.optim.Adam; ``weight_decay`` adds λw to the gradient (L2).

    m ← β1 m + (1 − β1) g                   (O1)
    v ← β2 v + (1 − β2) g²                  (O2)
    m̂ = m / (1 − β1ᵗ),  v̂ = v / (1 − β2ᵗ)    (O3)
    w ← w − η m̂ / (√v̂ + ε)                  (O4)

    The moments are kept as running sums M = m / (1 − β1), V = v / (1 − β2), which need no
    multiplication by (1 − β): M ← β1 M + g, V ← β2 V + g² (O5), and O4 in M and V (O6): ten
    passes over a parameter instead of twelve. ``state`` and ``state_dict()`` hold M and V as "m_sum" and "v_sum"
    (PyTorch's exp_avg and exp_avg_sq are m = (1 − β1) M and v = (1 − β2) V); checkpoints
    written before hold m and v and still load.
    """

    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr)
        if not all(0.0 <= beta < 1.0 for beta in betas):
            raise ValueError(f"{type(self).__name__}: betas must lie in [0, 1), got {tuple(betas)}")
        self.beta1, self.beta2 = betas
        self.eps, self.weight_decay = eps, weight_decay

    def _update(self, w, g, state):
        xp = backend.get_array_module(w)
        if self.weight_decay and self.decoupled:
            w *= 1.0 - self.lr * self.weight_decay                  # AdamW: decay the weight itself
        elif self.weight_decay:
            g = g + self.weight_decay * w                           # Adam: L2 term in the gradient
        if "m_sum" not in state:
            state["m_sum"], state["v_sum"] = xp.zeros_like(w), xp.zeros_like(w)
        m_sum, v_sum = state["m_sum"], state["v_sum"]
        tmp = self._scratch(w)                                      # one reused buffer: no new arrays per step
        m_sum *= self.beta1
        m_sum += g                                                  # eq. O5: M = m / (1 − β1)
        xp.multiply(g, g, out=tmp)
        v_sum *= self.beta2
        v_sum += tmp                                                # eq. O5: V = v / (1 − β2)
        bias1 = 1.0 - self.beta1 ** self.t                          # eq. O3
        bias2 = 1.0 - self.beta2 ** self.t
        r = math.sqrt(bias2 / (1.0 - self.beta2))                   # eq. O6: √v̂ = √V / r
        denom = xp.sqrt(v_sum, out=tmp)
        denom += self.eps * r
        step = xp.divide(m_sum, denom, out=denom)
        step *= self.lr * (1.0 - self.beta1) * r / bias1
        w -= step                                                   # eq. O6 (= O4)

    def _loaded(self, state):
        if "m" in state and "m_sum" not in state:           # a checkpoint of tinyae before O5: m and v themselves
            return {"m_sum": state["m"] / (1.0 - self.beta1), "v_sum": state["v"] / (1.0 - self.beta2)}     # eq. O5
        return state

    def _scratch(self, w):
        """A buffer of ``w``'s shape and dtype, shared by all parameters and kept between steps.

        Fresh temporaries of a large parameter's size cost more than the arithmetic (measured:
        1.5 ms against 0.4 ms per step for a 784×400 weight, float32): their pages are new to
        the process every time.
        """
        size = int(w.size)
        key = (w.dtype.str, type(w).__module__)
        buf = self._buffers.get(key)
        if buf is None or buf.size < size:
            buf = self._buffers[key] = backend.get_array_module(w).empty(size, dtype=w.dtype)
        return buf[:size].reshape(w.shape)


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter), as torch.optim.AdamW: w ← w(1 − ηλ), then the Adam step."""

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)


class RMSprop(Optimizer):
    """RMSprop, as torch.optim.RMSprop (alpha, eps, weight_decay, momentum, centered):

    v ← αv + (1 − α)g²;  ṽ = v − ḡ² if centered (ḡ ← αḡ + (1 − α)g);
    w ← w − η g / (√ṽ + ε), or with momentum b ← μb + g / (√ṽ + ε), w ← w − ηb
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        super().__init__(params, lr)
        self.alpha, self.eps, self.weight_decay = alpha, eps, weight_decay
        self.momentum, self.centered = momentum, centered

    def _update(self, w, g, state):
        xp = backend.xp
        if self.weight_decay:
            g = g + self.weight_decay * w
        if "square_avg" not in state:
            state["square_avg"] = xp.zeros_like(w)
            if self.centered:
                state["grad_avg"] = xp.zeros_like(w)
            if self.momentum:
                state["momentum_buffer"] = xp.zeros_like(w)
        v = state["square_avg"]
        v *= self.alpha
        v += (1.0 - self.alpha) * g * g
        if self.centered:
            g_avg = state["grad_avg"]
            g_avg *= self.alpha
            g_avg += (1.0 - self.alpha) * g
            denom = xp.sqrt(v - g_avg * g_avg)
        else:
            denom = xp.sqrt(v)
        denom += self.eps
        if self.momentum:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += g / denom
            w -= self.lr * buf
        else:
            w -= self.lr * (g / denom)


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}


def clip_grad_norm(params, max_norm: float, norm: float | None = None) -> float:
    """Scale every gradient by min(1, max_norm / ‖g‖) where ‖g‖ is the global L2 norm; returns ‖g‖.

    ``norm``: ‖g‖ when the caller has already computed it (``global_grad_norm``).
    """
    total = global_grad_norm(params) if norm is None else norm
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for p in _unique(params):
            p.grad = p.grad * scale
    return total


def global_grad_norm(params) -> float:
    """sqrt(Σ over every parameter of Σ g²), each Parameter counted once."""
    xp = backend.xp
    total = 0.0
    for p in _unique(params):
        flat = p.grad.reshape(-1)
        total += float(xp.dot(flat, flat))
    return math.sqrt(total)


# --- learning-rate schedules --------------------------------------------------------
class Schedule:
    """Sets ``optimizer.lr`` from the epoch number; call ``step()`` once per epoch."""

    def __init__(self, optimizer: Optimizer):
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.epoch = 0

    def step(self) -> float:
        self.epoch += 1
        self.optimizer.lr = self.lr_at(self.epoch)
        return self.optimizer.lr

    def lr_at(self, epoch: int) -> float:
        raise NotImplementedError


class StepLR(Schedule):
    """η = η₀ · γ^⌊epoch / step_size⌋ (torch.optim.lr_scheduler.StepLR)."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        self.step_size, self.gamma = step_size, gamma

    def lr_at(self, epoch):
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(Schedule):
    """η = η₀ · γ^epoch."""

    def __init__(self, optimizer, gamma: float):
        super().__init__(optimizer)
        self.gamma = gamma

    def lr_at(self, epoch):
        return self.base_lr * self.gamma ** epoch


class CosineAnnealingLR(Schedule):
    """η = η_min + (η₀ − η_min)(1 + cos(π · epoch / T_max)) / 2 (torch's closed form)."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0):
        super().__init__(optimizer)
        self.T_max, self.eta_min = T_max, eta_min

    def lr_at(self, epoch):
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


def _unique(params) -> list[Parameter]:
    seen, unique = set(), []
    for p in params:
        if not isinstance(p, Parameter):
            raise TypeError(f"optimizers take Parameters (model.parameters()), got {type(p).__name__}")
        if id(p) not in seen:
            seen.add(id(p))
            unique.append(p)
    return unique
