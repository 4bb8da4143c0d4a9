"""Fitting the Cartesian-tensor polarizability model to labelled structures.

:func:`fit_ensemble` fits a :class:`~ionraman.polarizability.models.cartesian.
CartesianTensorModel` in place and returns a :class:`FitReport`; :func:`fit_model` also saves
the model and the report (``ionraman polarizability fit``). The model itself (features, heads,
prediction, persistence) is :mod:`ionraman.polarizability.models.cartesian`; this module uses
it and is not used by it.

Steps of a fit: split off validation structures (``val_fraction``, or a given set); symmetrise
the labels; fit the bond-polarizability baseline (Δ-learning, ``baseline``); compute the
per-atom features once; normalise them on the training atoms (one scale per feature block,
:func:`_block_scale`); solve the heads of every ensemble member on its subsample of the
training structures (``solver="adam"``: :func:`_train_adam`, ``"ridge"``: :func:`_train_ridge`);
record the training domain (:class:`~ionraman.polarizability.models.domain.FeatureDomain`);
set the spread threshold from the validation spreads; report metrics (:func:`_metrics`).

Spectra depend on fluctuations: the loss adds to the error of the full tensor a term on
δα = α − ⟨α⟩ (means over structures of the same composition and size, :func:`_group_ids`),
both normalised by the variance of their targets (:func:`_loss_scales`), so the mean
polarizability (irrelevant to a spectrum) does not dominate the fit.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase import Atoms

from ionraman.conventions import POLARIZABILITY_KEY
from ionraman.errors import InputError
from ionraman.polarizability.bond_model import BondPolarizabilityModel
from ionraman.polarizability.labelled import load_labelled
from ionraman.polarizability.models.cartesian import (
    CartesianModelConfig,
    CartesianTensorModel,
    _finite_or_none,
    _to6,
)
from ionraman.polarizability.models.domain import FeatureDomain
from ionraman.polarizability.models.features import I6, W6
from ionraman.validate import check_output_file


# ----------------------------------------------------------------------------------------------
# the fit report
# ----------------------------------------------------------------------------------------------
@dataclass
class FitReport:
    """What :func:`fit_ensemble` did; ``metrics`` per split (``train``, ``validation``) for
    the ensemble and the baseline alone: RMSE of α per atom (Å³) and R² of α and of δα
    (fluctuations about the group means); ``ridge``: the penalty grid, its cross-validation
    losses and the chosen penalty (ridge solver); ``notes``: warnings about the fit (printed by
    the command line); ``domain_radius``: per species, the training-domain radius in the heads'
    feature metric (:mod:`~ionraman.polarizability.models.domain`)."""

    n_train: int
    n_validation: int
    species: list[str]
    epochs: list[int]  # adam: best epoch per member (ridge: zeros)
    metrics: dict[str, dict[str, float]]
    threshold_per_atom: float
    seconds: float
    config: dict[str, Any]
    max_label_asymmetry: float = 0.0
    ridge: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    domain_radius: dict[str, float | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------------------------
# entry points
# ----------------------------------------------------------------------------------------------
def fit_model(
    data: str | os.PathLike[str] | Sequence[Atoms],
    out: str | os.PathLike[str],
    *,
    validation: str | os.PathLike[str] | Sequence[Atoms] | None = None,
    key: str = POLARIZABILITY_KEY,
    config: CartesianModelConfig | None = None,
    **overrides: Any,
) -> tuple[CartesianTensorModel, FitReport]:
    """Fit a model to labelled structures and save it (``ionraman polarizability fit``).

    Writes the model to ``out`` (one ``.pt`` file) and the fit report (metrics, epochs,
    threshold, hyperparameters, provenance) to ``out`` with suffix ``.fit.json``.

    Parameters
    ----------
    data, validation, key
        As for :func:`fit_ensemble`.
    out
        Model file to write (refused if it exists as a directory or cannot be written).
    config, overrides
        Hyperparameters: a :class:`~ionraman.polarizability.models.cartesian.
        CartesianModelConfig` and/or its fields (e.g. ``ensemble_size=4``).

    Returns
    -------
    tuple[CartesianTensorModel, FitReport]
        The fitted, saved model and its fit report.
    """
    from ionraman._io import provenance, write_json_atomic

    check_output_file(out)
    model = CartesianTensorModel(config, **overrides)
    report = fit_ensemble(model, data, validation=validation, key=key)
    out = model.save(out)
    files = {"model": out}
    if isinstance(data, str | os.PathLike):
        files["data"] = Path(data)
    if isinstance(validation, str | os.PathLike):
        files["validation"] = Path(validation)
    write_json_atomic(
        out.with_suffix(".fit.json"),
        {**report.to_json(), "provenance": provenance(model.config.to_dict(), files)},
    )
    return model, report


def fit_ensemble(
    model: CartesianTensorModel,
    data: str | os.PathLike[str] | Sequence[Atoms],
    *,
    validation: str | os.PathLike[str] | Sequence[Atoms] | None = None,
    key: str = POLARIZABILITY_KEY,
    verbose: bool = False,
) -> FitReport:
    """Fit the ensemble of ``model`` to labelled structures (``atoms.info[key]``, 3×3, Å³).

    ``model`` (unfitted, or fitted: it is refitted) is set up for the species of the data and
    fitted in place: baseline, feature normalisation, heads of every member, training domain
    and spread threshold; its ``report`` becomes the returned report's JSON.

    Parameters
    ----------
    model
        The model to fit; its ``config`` holds the hyperparameters.
    data
        Labelled structures, or an extxyz file of them.
    validation
        Structures for early stopping, metrics and the spread threshold; by default a random
        ``val_fraction`` of ``data`` (none with fewer than 5 structures, then the training
        data stand in).
    key
        ``atoms.info`` key of the labels of structures given as objects (files are read with
        :func:`~ionraman.polarizability.labelled.load_labelled`).
    verbose
        Print the training progress (adam) or the cross-validation losses (ridge).

    Returns
    -------
    FitReport
        What the fit did. Labels are symmetrised (the largest relative asymmetry is
        reported).
    """
    t_start = time.perf_counter()
    cfg = model.config
    frames = load_labelled(data, key)
    if isinstance(data, str | os.PathLike):
        key_used = POLARIZABILITY_KEY
    else:
        key_used = key
    rng = np.random.default_rng(cfg.seed)
    if validation is not None:
        val_frames = load_labelled(validation, key)
        val_key = POLARIZABILITY_KEY if isinstance(validation, str | os.PathLike) else key
        train_frames = frames
    else:
        n_val = round(cfg.val_fraction * len(frames)) if len(frames) >= 5 else 0
        perm = rng.permutation(len(frames))
        val_frames = [frames[i] for i in sorted(perm[:n_val])]
        train_frames = [frames[i] for i in sorted(perm[n_val:])]
        val_key = key_used
    if not train_frames:
        raise InputError("no training structures left after the validation split")
    all_frames = train_frames + val_frames
    notes = []
    if cfg.solver == "adam" and 0 < len(val_frames) < 5:
        notes.append(
            f"early stopping on {len(val_frames)} validation structures stops at random: "
            "with tens of structures, fit with val_fraction=0 (stops on the training loss; "
            "measured in the models README)"
        )
    y_train, asym1 = _labels(train_frames, key_used)
    y_val, asym2 = _labels(val_frames, val_key) if val_frames else (np.zeros((0, 3, 3)), 0.0)
    species = sorted({s for a in all_frames for s in a.get_chemical_symbols()})
    model._setup(species)
    if cfg.baseline:
        fit_set = []
        for a, y in zip(train_frames, y_train, strict=True):
            b = a.copy()
            b.info = {POLARIZABILITY_KEY: y}
            fit_set.append(b)
        model._set_baseline(BondPolarizabilityModel().fit(fit_set))
    else:
        model._set_baseline(None)

    feats = [model._structure_features(a, f"structure {n}") for n, a in enumerate(all_frames)]
    n_tr = len(train_frames)
    q_all = torch.cat([f[0] for f in feats])
    t_all = torch.cat([f[1] for f in feats])
    ch_all = torch.as_tensor(np.concatenate([f[2] for f in feats]))
    sizes = np.array([len(a) for a in all_frames])
    owner = torch.as_tensor(np.repeat(np.arange(len(all_frames)), sizes))
    base = np.array([f[3] for f in feats])
    y6 = _to6(np.concatenate([y_train, y_val]))
    resid = y6 - base  # target of the learned part, [S, 6]
    groups = _group_ids(all_frames)
    is_train = np.arange(len(all_frames)) < n_tr

    # normalisation from training atoms
    train_atoms = owner < n_tr
    c = len(model.species)
    model.q_mean = torch.zeros(c, q_all.shape[1], dtype=torch.float64)
    model.q_std = torch.ones(c, q_all.shape[1], dtype=torch.float64)
    for z in range(c):
        sel = train_atoms & (ch_all == z)
        if sel.any():
            model.q_mean[z] = q_all[sel].mean(0)
            std = q_all[sel].std(0, unbiased=False) if sel.sum() > 1 else torch.ones(1)
            model.q_std[z] = _block_scale(model, std)
    tt = t_all[train_atoms]
    rms = torch.sqrt((tt**2 * torch.as_tensor(W6)).sum(-1).mean(0))
    blocks = rms.view(3, -1)  # A², (A¹A¹)₀, (A²A²)₀: one scale per block, as for q
    block_rms = torch.sqrt((blocks**2).mean(1, keepdim=True)).expand_as(blocks).reshape(-1)
    model.t_scale = torch.where(block_rms > 1e-12, block_rms, torch.ones_like(block_rms))
    per_atom = resid[is_train] / sizes[is_train, None]
    model.y_scale = float(
        max(np.sqrt((((per_atom - per_atom.mean(0)) ** 2) * W6).sum(-1).mean()), 1e-6)
    )

    train = _train_ridge if cfg.solver == "ridge" else _train_adam
    data = _FitData(q_all, t_all, ch_all, owner, sizes, resid, groups, is_train)
    epochs, ridge = train(model, data, rng, verbose)
    q_norm = model._normalised(q_all, ch_all)
    model.domain = FeatureDomain.from_training(
        q_norm[train_atoms], ch_all[train_atoms], owner[train_atoms], c,
        quantile=cfg.domain_quantile, seed=cfg.seed,
    )
    outside, rho_max = model.domain.frame_summary(model.domain.ratios(q_norm, ch_all), sizes)

    # evaluation, threshold
    with torch.no_grad():
        learned = model._heads_alpha(q_all, t_all, ch_all, owner, len(all_frames)).numpy()
    members6 = learned + base[None]
    pred = model._finish(members6, sizes.astype(float), outside, rho_max)
    calib = ~is_train if (~is_train).any() else is_train
    spreads = pred.spread_per_atom[calib]
    if cfg.ensemble_size > 1 and spreads.size:
        model.threshold_per_atom = float(
            cfg.flag_factor * np.quantile(spreads, min(max(cfg.flag_quantile, 0.0), 1.0))
        )
    else:
        model.threshold_per_atom = math.inf
    metrics = {}
    for name, sel in (("train", is_train), ("validation", ~is_train)):
        if not sel.any():
            continue
        metrics[name] = _metrics(y6[sel], members6.mean(0)[sel], sizes[sel], groups[sel])
        if model.baseline is not None:
            for k_, v in _metrics(y6[sel], base[sel], sizes[sel], groups[sel]).items():
                metrics[name][f"baseline_{k_}"] = v
    report = FitReport(
        n_train=n_tr,
        n_validation=len(val_frames),
        species=model.species,
        epochs=epochs,
        ridge=ridge,
        metrics=metrics,
        threshold_per_atom=_finite_or_none(model.threshold_per_atom),  # type: ignore[arg-type]
        seconds=time.perf_counter() - t_start,
        config=cfg.to_dict(),
        max_label_asymmetry=max(asym1, asym2),
        notes=notes,
        domain_radius=dict(
            zip(model.species, map(_finite_or_none, model.domain.radius), strict=True)
        ),
    )
    model.report = report.to_json()
    model._sha256 = None  # a refitted model is no longer the file it was loaded from
    return report


# ----------------------------------------------------------------------------------------------
# solvers
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _FitData:
    """What both solvers fit: the atoms of all S structures (training first, then validation)
    and the targets of their learned part.

    Attributes
    ----------
    q, t : torch.Tensor
        Per-atom invariants ``[A, n_scalar]`` and ℓ = 2 tensors ``[A, n_tensor, 6]``, raw.
    channel, owner : torch.Tensor
        Per-atom species index into ``model.species`` and structure index, ``[A]``.
    sizes : ndarray
        Atoms per structure, ``[S]``.
    resid : ndarray
        Label minus baseline, Voigt ``[S, 6]`` (Å³).
    groups : ndarray
        Group id per structure (δα is taken within a group), ``[S]``.
    is_train : ndarray of bool
        Training (True) or validation structure, ``[S]``.
    """

    q: torch.Tensor
    t: torch.Tensor
    channel: torch.Tensor
    owner: torch.Tensor
    sizes: np.ndarray
    resid: np.ndarray
    groups: np.ndarray
    is_train: np.ndarray


def _train_adam(
    model: CartesianTensorModel, data: _FitData, rng: np.random.Generator, verbose: bool
) -> tuple[list[int], dict[str, Any] | None]:
    """MLP heads of all ensemble members by AdamW, one pass for all members.

    Each member fits its :func:`_member_subsets` structures (per-atom full tensor / its
    variance + ``delta_weight`` × δα / its variance, Voigt weights, :func:`_loss_scales`),
    keeping the parameters of its best epoch on the validation structures (the training
    structures without a validation split); stops when no member improved for ``patience``
    epochs. Returns the best epoch of each member and no ridge report.
    """
    assert model.heads is not None
    q_all, t_all, ch_all, owner = data.q, data.t, data.channel, data.owner
    sizes, resid, groups, is_train = data.sizes, data.resid, data.groups, data.is_train
    cfg = model.config
    k_members = cfg.ensemble_size
    n_struct = len(sizes)
    train_idx = np.flatnonzero(is_train)
    val_idx = np.flatnonzero(~is_train)
    # member masks over structures
    masks = np.zeros((k_members, n_struct))
    for k, chosen in enumerate(_member_subsets(cfg, train_idx, rng)):
        masks[k, chosen] = 1.0
    val_mask = np.zeros(n_struct)
    val_mask[val_idx if val_idx.size else train_idx] = 1.0

    y = torch.as_tensor(resid / sizes[:, None])  # per-atom target [S, 6]
    inv_n = torch.as_tensor(1.0 / sizes)[:, None]
    w6 = torch.as_tensor(W6)
    g = torch.as_tensor(groups)
    n_groups = int(groups.max()) + 1
    var_full, var_delta = _loss_scales(resid, sizes, groups, is_train)

    def losses(pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Per-member loss ``[K]``; ``pred [K, S, 6]`` α of the learned part."""
        e = pred * inv_n - y  # [K, S, 6]
        wsum = mask.sum(1).clamp_min(1.0)
        full = ((e**2 * w6).sum(-1) * mask).sum(1) / wsum
        gsum = torch.zeros(e.shape[0], n_groups, 6, dtype=e.dtype).index_add_(
            1, g, e * mask[..., None]
        )
        gcnt = torch.zeros(e.shape[0], n_groups, dtype=e.dtype).index_add_(1, g, mask)
        gmean = gsum / gcnt.clamp_min(1.0)[..., None]
        de = e - gmean[:, g]
        delta = ((de**2 * w6).sum(-1) * mask).sum(1) / wsum
        return full / var_full + cfg.delta_weight * delta / var_delta

    gen = torch.Generator().manual_seed(int(cfg.seed))
    model.heads.reset(gen)
    # per-species isotropic constants of the learned part: least squares on the trace
    counts = np.zeros((n_struct, len(model.species)))
    np.add.at(counts, (owner.numpy(), ch_all.numpy()), 1.0)
    iso = resid[:, :3].mean(1)
    sol, *_ = np.linalg.lstsq(counts[is_train], iso[is_train], rcond=None)
    with torch.no_grad():
        last = len(model.heads.widths) - 2
        for z, s in enumerate(model.species):
            model.heads.weights[f"{s}_b{last}"][:, 0, 0] = float(sol[z]) / model.y_scale
    train_masks = torch.as_tensor(masks)
    vmask = torch.as_tensor(val_mask)[None].expand(k_members, -1)
    opt = torch.optim.AdamW(
        model.heads.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=max(cfg.max_epochs, 1), eta_min=cfg.learning_rate / 20
    )
    best = torch.full((k_members,), math.inf, dtype=torch.float64)
    best_epoch = np.zeros(k_members, dtype=int)
    best_state = copy.deepcopy(model.heads.state_dict())
    since = np.zeros(k_members, dtype=int)
    epoch = 0
    for epoch in range(1, cfg.max_epochs + 1):
        opt.zero_grad(set_to_none=True)
        pred = model._heads_alpha(q_all, t_all, ch_all, owner, n_struct)
        loss_k = losses(pred, train_masks)
        loss_k.sum().backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            pred = model._heads_alpha(q_all, t_all, ch_all, owner, n_struct)
            val_k = losses(pred, vmask)
        improved = (val_k < best * (1 - 1e-6)).numpy()
        if improved.any():
            state = model.heads.state_dict()
            for name, value in state.items():
                best_state[name][improved] = value[improved]
            best[improved] = val_k[improved]
            best_epoch[improved] = epoch
        since = np.where(improved, 0, since + 1)
        if verbose and epoch % 100 == 0:
            print(f"epoch {epoch}: train {loss_k.detach().numpy()} val {val_k.numpy()}")
        if (since >= cfg.patience).all():
            break
    model.heads.load_state_dict(best_state)
    return [int(e) for e in best_epoch], None


def _train_ridge(
    model: CartesianTensorModel, data: _FitData, rng: np.random.Generator, verbose: bool
) -> tuple[list[int], dict[str, Any] | None]:
    """Linear heads in closed form: kernel (dual) ridge regression.

    With linear heads the learned α of a structure is linear in the head weights θ:
    α₆(S) = F(S) θ, where a column of ``F`` is, for one central species Z, input ``j``
    (a constant or a normalised invariant q̃ⱼ) and output channel ``c`` (the identity or an
    ℓ = 2 tensor T̂ₘ), the sum over the Z atoms of S of q̃ᵢⱼ · basis_c(i). The loss of
    :func:`_train_adam` (per-atom full tensor / its variance + ``delta_weight`` × δα / its
    variance, Voigt weights) is then a weighted least-squares problem in θ. It has
    species × (1 + n_scalar) × (1 + n_tensor) unknowns (tens of thousands) for 6 values
    per structure, so it is solved in the dual: c = (K + λI)⁻¹ r with the Gram matrix K of
    the loss rows, θ = Aᵀc (the minimum-norm solution as λ → 0), which costs O(rows²·P)
    and never forms a P × P matrix. This is kernel ridge regression with the linear kernel
    of these equivariant features, the small-data approach of symmetry-adapted Gaussian
    process regression of polarizabilities. λ is chosen from ``ridge_penalties`` by
    ``cv_folds``-fold cross-validation over the training structures (the same loss on
    the left-out fold); each ensemble member is then solved on its ``subsample`` of the
    training structures.

    Memory: the design matrices of all structures, 8 × S × 6 × P bytes in total (about
    0.5 GB for 120 16-atom structures of four species).

    Returns zero epochs per member and the ridge report: the penalty grid, its
    cross-validation losses, the number of folds and the chosen penalty.
    """
    assert model.heads is not None
    q_all, t_all, ch_all, owner = data.q, data.t, data.channel, data.owner
    sizes, resid, groups, is_train = data.sizes, data.resid, data.groups, data.is_train
    cfg = model.config
    n_struct = len(sizes)
    train_idx = np.flatnonzero(is_train)
    var_full, var_delta = _loss_scales(resid, sizes, groups, is_train)
    w = np.sqrt(np.asarray(W6))
    # weighted per-atom design [S*6, P_z] per species and targets [S*6]
    designs = _ridge_designs(model, q_all, t_all, ch_all, owner, n_struct)
    scale = (w[None, :] / sizes[:, None]).reshape(-1)
    designs = [d * scale[:, None] for d in designs]
    target = (resid / sizes[:, None] * w[None, :]).reshape(-1)
    gram = sum(d @ d.T for d in designs)  # [S*6, S*6]

    def mixing(idx: np.ndarray) -> np.ndarray:
        """Rows of the loss over structures ``idx`` as combinations of their design rows:
        full-tensor rows, then δα rows (group means over ``idx`` removed)."""
        n = idx.size
        centre = np.eye(n)
        g = groups[idx]
        for gid in np.unique(g):
            sel = np.flatnonzero(g == gid)
            centre[np.ix_(sel, sel)] -= 1.0 / sel.size
        m = np.vstack(
            [np.eye(n) / math.sqrt(var_full), centre * math.sqrt(cfg.delta_weight / var_delta)]
        )
        return np.kron(m, np.eye(6))

    def rows(idx: np.ndarray) -> np.ndarray:
        return (idx[:, None] * 6 + np.arange(6)[None]).reshape(-1)

    def solve(idx: np.ndarray, lams: Sequence[float]) -> list[np.ndarray]:
        """Dual coefficients on the design rows of ``idx`` ([len(idx)*6]), one per penalty
        (the Gram matrix of the loss rows is formed once)."""
        m, r = mixing(idx), rows(idx)
        k, rhs = m @ gram[np.ix_(r, r)] @ m.T, m @ target[r]
        eye = np.eye(k.shape[0])
        return [m.T @ np.linalg.solve(k + lam * eye, rhs) for lam in lams]

    def loss(idx: np.ndarray, pred: np.ndarray) -> float:
        """Loss of predictions ``pred`` ([len(idx)*6], weighted per-atom) on ``idx``."""
        e = mixing(idx) @ (pred - target[rows(idx)])
        return float((e**2).sum() / idx.size)

    # penalty by k-fold cross-validation over the training structures
    penalties = list(cfg.ridge_penalties)
    n_folds = min(cfg.cv_folds, train_idx.size)
    cv = np.full(len(penalties), math.nan)
    if n_folds >= 2:
        folds = np.array_split(rng.permutation(train_idx), n_folds)
        cv[:] = 0.0
        for fold in folds:
            fit_idx = np.setdiff1d(train_idx, fold)
            cross = gram[np.ix_(rows(fold), rows(fit_idx))]
            for p, u in enumerate(solve(fit_idx, penalties)):
                cv[p] += loss(fold, cross @ u) * fold.size / train_idx.size
        best = int(np.argmin(cv))
    else:
        best = len(penalties) // 2
    lam = penalties[best]
    if verbose:
        for p, x in zip(penalties, cv, strict=True):
            print(f"ridge penalty {p:g}: cross-validation loss {x:.4g}")

    # ensemble members on subsamples, written into the linear heads
    n_scalar = model.heads.widths[0]
    with torch.no_grad():
        for k, idx in enumerate(_member_subsets(cfg, train_idx, rng)):
            (u,) = solve(idx, [lam])
            for z, symbol in enumerate(model.species):
                theta = designs[z][rows(idx)].T @ u / model.y_scale  # [(1+ns)*(1+nt)]
                theta = theta.reshape(1 + n_scalar, -1)
                model.heads.weights[f"{symbol}_b0"][k, 0] = torch.as_tensor(theta[0])
                model.heads.weights[f"{symbol}_w0"][k] = torch.as_tensor(theta[1:])
                model.heads.weights[f"{symbol}_skip"][k].zero_()
    return [0] * cfg.ensemble_size, {
        "penalties": penalties,
        "cv_loss": [None if math.isnan(x) else float(x) for x in cv],
        "cv_folds": int(n_folds),
        "penalty": lam,
    }


def _member_subsets(
    config: CartesianModelConfig, train_idx: np.ndarray, rng: np.random.Generator
) -> list[np.ndarray]:
    """Training structures of each ensemble member (sorted): a random ``subsample``
    fraction, drawn without replacement; all of them for a single member."""
    k_members = config.ensemble_size
    if k_members == 1:
        return [train_idx]
    n_sub = max(1, math.ceil(config.subsample * train_idx.size))
    return [np.sort(rng.choice(train_idx, n_sub, replace=False)) for _ in range(k_members)]


def _ridge_designs(
    model: CartesianTensorModel,
    q_all: torch.Tensor,
    t_all: torch.Tensor,
    ch_all: torch.Tensor,
    owner: torch.Tensor,
    n_struct: int,
) -> list[np.ndarray]:
    """Design matrices of the linear heads per species, ``[S*6, (1+ns)*(1+nt)]``: column
    (j, c) of structure S, Voigt component x, is Σ_{i∈S, Z} q̃ᵢⱼ basis_c(i)ₓ with q̃ᵢ₀ = 1,
    basis₀ = I and basis_m = T̂ᵢₘ / t_scaleₘ, the same terms
    :meth:`~ionraman.polarizability.models.cartesian.CartesianTensorModel._heads_alpha` sums."""
    i6 = np.asarray(I6)
    t_scale = model.t_scale.numpy()
    out = []
    for z in range(len(model.species)):
        sel = (ch_all == z).numpy()
        q = ((q_all[sel] - model.q_mean[z]) / model.q_std[z]).numpy()
        q1 = np.concatenate([np.ones((q.shape[0], 1)), q], axis=1)  # [A, 1+ns]
        basis = np.concatenate(
            [np.broadcast_to(i6, (q.shape[0], 1, 6)), t_all[sel].numpy() / t_scale[:, None]],
            axis=1,
        )  # [A, 1+nt, 6]
        own = owner.numpy()[sel]
        design = np.zeros((n_struct, 6, q1.shape[1], basis.shape[1]))
        for s_ in np.unique(own):
            a = own == s_
            design[s_] = np.einsum("aj,acx->xjc", q1[a], basis[a])
        out.append(design.reshape(n_struct * 6, -1))
    return out


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def _labels(frames: Sequence[Atoms], key: str) -> tuple[np.ndarray, float]:
    """Symmetrised labels ``[S, 3, 3]`` (Å³) and the largest relative asymmetry of the raw
    labels (largest |α − αᵀ| over largest |α| of a structure)."""
    mats = np.array([np.asarray(a.info[key], dtype=float).reshape(3, 3) for a in frames])
    asym = np.abs(mats - mats.transpose(0, 2, 1)).max(axis=(1, 2)) / np.maximum(
        np.abs(mats).max(axis=(1, 2)), 1e-30
    )
    return 0.5 * (mats + mats.transpose(0, 2, 1)), float(asym.max(initial=0.0))


def _group_ids(frames: Sequence[Atoms]) -> np.ndarray:
    """Group of each structure for δα: same composition and size (full chemical formula)."""
    names: dict[str, int] = {}
    return np.array([names.setdefault(a.get_chemical_formula(), len(names)) for a in frames])


def _block_scale(model: CartesianTensorModel, std: torch.Tensor) -> torch.Tensor:
    """Scale of the scalar features: one RMS standard deviation per feature block (radial
    A⁰, A¹·A¹, A²:A², det A²), not per feature, so features that hardly vary in the
    training data stay small instead of being blown up to unit variance (with tens of
    structures, that is what keeps the heads from fitting noise directions)."""
    assert model.descriptor is not None
    d = model.descriptor
    c, k = len(model.species), d.n_radial
    sizes = [c * k, d.n_pairs * k, d.n_pairs * k, c * k]
    out = torch.empty_like(std)
    start = 0
    for size in sizes:
        block = std[start : start + size]
        rms = float(torch.sqrt((block**2).mean())) if size else 1.0
        out[start : start + size] = rms if rms > 1e-12 else 1.0
        start += size
    return out


def _loss_scales(
    resid: np.ndarray, sizes: np.ndarray, groups: np.ndarray, is_train: np.ndarray
) -> tuple[float, float]:
    """Normalisations of the two loss terms from the training targets (per atom, Voigt
    weights): variance of the full tensor and of δα (group means removed)."""
    yt = resid[is_train] / sizes[is_train, None]
    var_full = float(((yt - yt.mean(0)) ** 2 * W6).sum(-1).mean())
    n_groups = int(groups.max()) + 1
    gm = np.zeros((n_groups, 6))
    np.add.at(gm, groups[is_train], yt)
    cnt = np.bincount(groups[is_train], minlength=n_groups)[:, None]
    gm = gm / np.maximum(cnt, 1)
    var_delta = float(((yt - gm[groups[is_train]]) ** 2 * W6).sum(-1).mean())
    var_full = max(var_full, 1e-30)
    var_delta = var_delta if var_delta > 1e-12 * var_full else var_full
    return var_full, var_delta


def _metrics(
    y6: np.ndarray, p6: np.ndarray, sizes: np.ndarray, groups: np.ndarray
) -> dict[str, float]:
    """RMSE of α per atom (Å³, Frobenius/3) and R² of α and of δα (group means removed)."""
    w = np.asarray(W6)
    yn, pn = y6 / sizes[:, None], p6 / sizes[:, None]
    err = ((pn - yn) ** 2 * w).sum(-1)
    out = {"rmse_per_atom_A3": float(np.sqrt(err.mean() / 9.0))}
    tot = (((yn - yn.mean(0)) ** 2) * w).sum()
    out["r2_alpha"] = float(1 - err.sum() / tot) if tot > 0 else math.nan
    dy, dp = yn.copy(), pn.copy()
    for gid in np.unique(groups):
        sel = groups == gid
        dy[sel] -= yn[sel].mean(0)
        dp[sel] -= pn[sel].mean(0)
    dtot = ((dy**2) * w).sum()
    out["r2_delta_alpha"] = float(1 - (((dp - dy) ** 2) * w).sum() / dtot) if dtot > 0 else math.nan
    return out
