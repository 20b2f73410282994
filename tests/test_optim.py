"""Optimizers, schedules and gradient clipping.

Adam is checked against a hand-written transcription of O1–O4 (docs/math/dense.md) always, and every
optimizer against torch.optim on the same parameters and gradients, in float64, when torch is importable.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from tinyae import backend, optim
from tinyae.parameter import Parameter

SHAPES = [(3, 4), (4,)]


def _np(a):
    return backend.to_numpy(a)


def _start(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in SHAPES]


def _grads(steps, seed=1):
    """A fixed sequence of gradients: grads[t][i] for step t and parameter i."""
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s) for s in SHAPES] for _ in range(steps)]


def _run_tinyae(cls, kwargs, steps):
    params = [Parameter(backend.asarray(w, dtype=np.float64)) for w in _start()]
    opt = cls(params, **kwargs)
    for grads in _grads(steps):
        for p, g in zip(params, grads):
            p.grad = backend.asarray(g, dtype=np.float64)
        opt.step()
    return [_np(p.data) for p in params], opt


def _run_torch(name, kwargs, steps):
    torch = pytest.importorskip("torch")
    params = [torch.nn.Parameter(torch.from_numpy(w)) for w in _start()]
    opt = getattr(torch.optim, name)(params, **kwargs)
    for grads in _grads(steps):
        for p, g in zip(params, grads):
            p.grad = torch.from_numpy(g.copy())
        opt.step()
    return [p.detach().numpy() for p in params]


# --- Adam against its equations -------------------------------------------------------------------

def _adam_by_hand(steps, lr, beta1, beta2, eps):
    """O1–O4 transcribed literally, one line per equation."""
    ws = [w.copy() for w in _start()]
    ms = [np.zeros_like(w) for w in ws]
    vs = [np.zeros_like(w) for w in ws]
    for t, grads in enumerate(_grads(steps), start=1):
        for i, g in enumerate(grads):
            ms[i] = beta1 * ms[i] + (1 - beta1) * g                   # O1
            vs[i] = beta2 * vs[i] + (1 - beta2) * g ** 2              # O2
            m_hat = ms[i] / (1 - beta1 ** t)                          # O3
            v_hat = vs[i] / (1 - beta2 ** t)                          # O3
            ws[i] = ws[i] - lr * m_hat / (np.sqrt(v_hat) + eps)       # O4
    return ws, ms, vs


@pytest.mark.parametrize("steps", [1, 7])
def test_adam_computed_as_O5_O6_equals_hand_written_eq_O1_O2_O3_O4_O5_O6(backend_name, steps):
    kwargs = dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6)
    ours, opt = _run_tinyae(optim.Adam, kwargs, steps)
    ws, ms, vs = _adam_by_hand(steps, 0.01, 0.8, 0.99, 1e-6)
    assert opt.t == steps
    for w, w_ref, state, m, v in zip(ours, ws, opt.state, ms, vs):
        np.testing.assert_allclose(_np(state["m_sum"]) * (1 - 0.8), m, rtol=1e-12, atol=1e-15)    # eq. O1, O5
        np.testing.assert_allclose(_np(state["v_sum"]) * (1 - 0.99), v, rtol=1e-12, atol=1e-15)   # eq. O2, O5
        np.testing.assert_allclose(w, w_ref, rtol=1e-12, atol=1e-14)              # eq. O3, O4


def test_adam_first_step_moves_every_weight_by_lr_thanks_to_bias_correction_eq_O3_O4():
    # at t = 1, m̂ = g and v̂ = g², so the step is η g / (|g| + ε) ≈ η sign(g), whatever the scale of g
    for scale in (1e-4, 1.0, 1e4):
        params = [Parameter(np.zeros(5))]
        params[0].grad = scale * np.array([1.0, -2.0, 3.0, -0.5, 0.1])
        optim.Adam(params, lr=0.01).step()
        np.testing.assert_allclose(params[0].data, -0.01 * np.sign(params[0].grad), rtol=1e-3)


def test_adam_default_hyperparameters_are_pytorchs():
    opt = optim.Adam([Parameter(np.zeros(2))])
    assert (opt.lr, opt.beta1, opt.beta2, opt.eps, opt.weight_decay) == (1e-3, 0.9, 0.999, 1e-8, 0.0)
    assert optim.AdamW([Parameter(np.zeros(2))]).weight_decay == 1e-2


def test_adamw_decays_the_weight_itself_before_the_adam_step_eq_O1_to_O4():
    lr, lam = 0.01, 0.1
    ours, _ = _run_tinyae(optim.AdamW, dict(lr=lr, weight_decay=lam), 1)
    w0, g = _start()[0], _grads(1)[0][0]
    expected = w0 * (1 - lr * lam) - lr * g / (np.abs(g) + 1e-8)        # t = 1: m̂/√v̂ = sign(g)
    np.testing.assert_allclose(ours[0], expected, rtol=1e-12)


# --- every optimizer against torch.optim ----------------------------------------------------------

CONFIGS = {
    "SGD": (optim.SGD, "SGD", dict(lr=0.1)),
    "SGD momentum": (optim.SGD, "SGD", dict(lr=0.1, momentum=0.9)),
    "SGD momentum dampening": (optim.SGD, "SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    "SGD nesterov": (optim.SGD, "SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    "SGD weight decay": (optim.SGD, "SGD", dict(lr=0.1, weight_decay=0.05)),
    "SGD nesterov weight decay": (optim.SGD, "SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    "Adam": (optim.Adam, "Adam", dict(lr=0.01)),
    "Adam betas eps weight decay": (optim.Adam, "Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    "AdamW": (optim.AdamW, "AdamW", dict(lr=0.01)),
    "AdamW weight decay": (optim.AdamW, "AdamW", dict(lr=0.01, weight_decay=0.3)),
    "RMSprop": (optim.RMSprop, "RMSprop", dict(lr=0.01)),
    "RMSprop alpha eps": (optim.RMSprop, "RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6)),
    "RMSprop momentum": (optim.RMSprop, "RMSprop", dict(lr=0.01, momentum=0.9)),
    "RMSprop centered momentum weight decay": (optim.RMSprop, "RMSprop",
                                               dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1)),
}


@pytest.mark.parametrize("steps", [1, 6], ids=["one step", "six steps"])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_optimizer_step_equals_torch_optim_on_the_same_params_and_grads_eq_O1_to_O4(config, steps):
    ours_cls, torch_name, kwargs = CONFIGS[config]
    expected = _run_torch(torch_name, kwargs, steps)
    ours, _ = _run_tinyae(ours_cls, kwargs, steps)
    for w, w_ref in zip(ours, expected):
        np.testing.assert_allclose(w, w_ref, rtol=1e-10, atol=1e-12)


# --- state, errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("config", ["SGD momentum", "Adam", "RMSprop centered momentum weight decay"])
def test_resuming_from_state_dict_continues_exactly(config):
    cls, _, kwargs = CONFIGS[config]
    grads = _grads(5)
    a = [Parameter(w) for w in _start()]
    opt_a = cls(a, **kwargs)
    for t in range(5):
        for p, g in zip(a, grads[t]):
            p.grad = g.copy()
        opt_a.step()
        if t == 2:
            saved_w, saved_state = [p.data.copy() for p in a], copy.deepcopy(opt_a.state_dict())
    b = [Parameter(w) for w in saved_w]
    opt_b = cls(b, **kwargs)
    opt_b.load_state_dict(saved_state)
    for t in (3, 4):
        for p, g in zip(b, grads[t]):
            p.grad = g.copy()
        opt_b.step()
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.data, q.data)


def test_state_dict_is_a_snapshot_that_later_steps_do_not_change():
    p = Parameter(np.zeros(3))
    opt = optim.Adam([p])
    p.grad = np.ones(3)
    opt.step()
    state = opt.state_dict()
    m_sum = state["state"][0]["m_sum"].copy()
    opt.step()
    np.testing.assert_array_equal(state["state"][0]["m_sum"], m_sum)


def test_adam_state_of_m_and_v_from_before_eq_O5_loads_as_running_sums_and_steps_the_same(backend_name):
    """A state_dict as tinyae wrote it before O5 (m and v themselves) continues as the running sums would."""
    kwargs = dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6)
    _, opt = _run_tinyae(optim.Adam, kwargs, 3)
    state = opt.state_dict()
    old_style = dict(state, state=[{"m": s["m_sum"] * (1 - 0.8), "v": s["v_sum"] * (1 - 0.99)} for s in state["state"]])
    params_a = [Parameter(p.data.copy()) for p in opt.params]
    params_b = [Parameter(p.data.copy()) for p in opt.params]
    opt_a, opt_b = optim.Adam(params_a, **kwargs), optim.Adam(params_b, **kwargs)
    opt_a.load_state_dict(state)
    opt_b.load_state_dict(old_style)
    for s_a, s_b in zip(opt_a.state, opt_b.state):
        np.testing.assert_allclose(_np(s_b["m_sum"]), _np(s_a["m_sum"]), rtol=1e-14)      # eq. O5
        np.testing.assert_allclose(_np(s_b["v_sum"]), _np(s_a["v_sum"]), rtol=1e-14)
    rng = np.random.default_rng(5)
    for pa, pb in zip(params_a, params_b):
        pa.grad = pb.grad = backend.asarray(rng.standard_normal(pa.shape), dtype=np.float64)
    opt_a.step(), opt_b.step()
    for pa, pb in zip(params_a, params_b):
        np.testing.assert_allclose(_np(pb.data), _np(pa.data), rtol=1e-13)


def test_a_decaying_float32_moment_sticks_at_a_subnormal_value_without_the_flush_eq_O7():
    stuck = np.float32(4 * 2.0 ** -149)
    assert stuck * np.float32(0.9) == stuck                                  # rounds back: never 0
    assert stuck + np.float32(0.1) * (np.float32(0) - stuck) == stuck        # O1's form rounds the same way


@pytest.mark.parametrize("cls", [optim.Adam, optim.RMSprop, lambda ps, lr: optim.SGD(ps, lr=lr, momentum=0.9)],
                         ids=["Adam", "RMSprop", "SGD momentum"])
def test_flushing_subnormal_state_to_zero_leaves_the_weights_bit_for_bit_the_same_eq_O7(cls):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(4000).astype(np.float32)
    early = rng.standard_normal((50, 4000)).astype(np.float32) * 1e-3 * (rng.random((50, 4000)) < 0.05)
    runs = {}
    for flush_every in (0, 100):
        p = Parameter(w0.copy())
        opt = cls([p], lr=1e-3)
        opt.flush_every = flush_every
        for t in range(1200):
            p.grad = early[t].copy() if t < 50 else np.zeros(4000, np.float32)   # a few lit early on, then dark
            opt.step()
        runs[flush_every] = (p.data, opt.state[0])
    (w_kept, kept), (w_flushed, flushed) = runs[0], runs[100]
    tiny = np.finfo(np.float32).tiny
    first = next(iter(kept))
    if cls is not optim.RMSprop:              # (its square_avg decays by 0.99 a step: still normal after 1150)
        assert ((kept[first] != 0) & (np.abs(kept[first]) < tiny)).sum() > 0                   # stuck without O7
    for key in kept:
        assert not ((flushed[key] != 0) & (np.abs(flushed[key]) < tiny)).any()                        # none with O7
        normal = np.abs(kept[key]) >= tiny
        np.testing.assert_array_equal(flushed[key][normal], kept[key][normal])                   # the rest untouched
    np.testing.assert_array_equal(w_flushed, w_kept)


def test_optimizer_lists_a_shared_parameter_once():
    p = Parameter(np.zeros(3))
    assert optim.Adam([p, p]).params == [p]


def test_optimizer_arguments_are_checked():
    p = Parameter(np.zeros(3))
    with pytest.raises(ValueError, match="learning rate must be positive"):
        optim.SGD([p], lr=0)
    with pytest.raises(ValueError, match="got no parameters"):
        optim.Adam([])
    with pytest.raises(TypeError, match=r"model.parameters\(\)"):
        optim.Adam([np.zeros(3)])
    with pytest.raises(ValueError, match="Nesterov momentum needs momentum > 0"):
        optim.SGD([p], nesterov=True)
    with pytest.raises(ValueError, match=r"betas must lie in \[0, 1\), got \(0.9, 1.0\)"):
        optim.Adam([p], betas=(0.9, 1.0))


def test_zero_grad_sets_every_grad_to_zero():
    p = Parameter(np.ones(3))
    p.grad = np.ones(3)
    optim.SGD([p]).zero_grad()
    np.testing.assert_array_equal(p.grad, 0)


# --- schedules ---------------------------------------------------------------------------------------

SCHEDULES = {
    "StepLR": (lambda o: optim.StepLR(o, step_size=3, gamma=0.5), "StepLR", dict(step_size=3, gamma=0.5)),
    "ExponentialLR": (lambda o: optim.ExponentialLR(o, gamma=0.8), "ExponentialLR", dict(gamma=0.8)),
    "CosineAnnealingLR": (lambda o: optim.CosineAnnealingLR(o, T_max=6, eta_min=0.01), "CosineAnnealingLR",
                          dict(T_max=6, eta_min=0.01)),
}


def test_schedules_follow_their_closed_forms():
    def lrs(schedule, epochs=8):
        return [schedule.step() for _ in range(epochs)]

    def fresh():
        return optim.SGD([Parameter(np.zeros(1))], lr=0.1)

    assert lrs(optim.StepLR(fresh(), step_size=3, gamma=0.5)) == pytest.approx(
        [0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025])          # η₀ γ^⌊e/3⌋ after epochs e = 1..8
    assert lrs(optim.ExponentialLR(fresh(), gamma=0.8)) == pytest.approx([0.1 * 0.8 ** e for e in range(1, 9)])
    cosine = lrs(optim.CosineAnnealingLR(fresh(), T_max=4), epochs=4)
    assert cosine == pytest.approx([0.1 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(1, 5)])
    assert cosine[-1] == pytest.approx(0.0, abs=1e-15) and cosine[1] == pytest.approx(0.05)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_learning_rates_equal_torch_lr_scheduler(name):
    torch = pytest.importorskip("torch")
    make, torch_name, kwargs = SCHEDULES[name]
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    schedule = make(opt)
    t_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    t_schedule = getattr(torch.optim.lr_scheduler, torch_name)(t_opt, **kwargs)
    for _ in range(10):
        t_opt.step()
        t_schedule.step()
        schedule.step()
        assert opt.lr == pytest.approx(t_opt.param_groups[0]["lr"], rel=1e-9, abs=1e-12)


# --- gradient clipping ---------------------------------------------------------------------------

def _params_with_grads(scale):
    rng = np.random.default_rng(3)
    params = [Parameter(np.zeros(s)) for s in SHAPES]
    for p in params:
        p.grad = scale * rng.standard_normal(p.shape)
    return params


def test_clip_grad_norm_rescales_to_max_norm_keeping_the_direction_and_returns_the_norm():
    params = _params_with_grads(10.0)
    before = [p.grad.copy() for p in params]
    norm = math.sqrt(sum(float(np.sum(g * g)) for g in before))
    assert optim.clip_grad_norm(params, 1.0) == pytest.approx(norm, rel=1e-12)
    assert optim.global_grad_norm(params) == pytest.approx(1.0, rel=1e-5)
    for p, g in zip(params, before):
        np.testing.assert_allclose(p.grad, g / (norm + 1e-6), rtol=1e-12)


def test_clip_grad_norm_leaves_small_gradients_alone_and_counts_a_shared_parameter_once():
    params = _params_with_grads(1e-3)
    before = [p.grad.copy() for p in params]
    optim.clip_grad_norm(params, 1.0)
    for p, g in zip(params, before):
        np.testing.assert_array_equal(p.grad, g)
    assert optim.global_grad_norm(params + params[:1]) == optim.global_grad_norm(params)


def test_clip_grad_norm_equals_torch_clip_grad_norm():
    torch = pytest.importorskip("torch")
    params = _params_with_grads(10.0)
    t_params = [torch.nn.Parameter(torch.zeros(s, dtype=torch.float64)) for s in SHAPES]
    for p, t in zip(params, t_params):
        t.grad = torch.from_numpy(p.grad.copy())
    expected = float(torch.nn.utils.clip_grad_norm_(t_params, 1.0))
    assert optim.clip_grad_norm(params, 1.0) == pytest.approx(expected, rel=1e-12)
    for p, t in zip(params, t_params):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)
