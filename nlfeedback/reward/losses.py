"""One loss per feedback kind. ``r`` is a 1-D tensor of rewards of the steps involved."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def weighted_regression(r: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Per-step targets (text, sketch): Σ w (r − y)² / Σ w."""
    return (weights * (r - targets) ** 2).sum() / weights.sum().clamp_min(1e-8)


def segment_regression(seg_mean: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Scalar ratings: the mean reward over a rated segment ≈ the rating mapped to [−1, 1]."""
    return F.mse_loss(seg_mean, values)


def bradley_terry(r_this: torch.Tensor, r_other: torch.Tensor, p_other: torch.Tensor) -> torch.Tensor:
    """Preferences: cross-entropy of P(other ≻ this) = σ(R_other − R_this) against the label (0, 1, 0.5)."""
    return F.binary_cross_entropy_with_logits(r_other - r_this, p_other)
