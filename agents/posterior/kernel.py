"""The RBF kernel on unit vectors, written as a function of the cosine c between two concepts:
``k(c) = s2 * exp(-(1 - c) / l^2)``."""
from __future__ import annotations

import numpy as np
import torch

from agents.posterior.config import GPConfig


def kernel(cos, cfg: GPConfig):
    """RBF on unit vectors as a function of cosine similarity (numpy or torch)."""
    if isinstance(cos, torch.Tensor):
        return cfg.signal_variance * torch.exp((cos - 1.0) / cfg.lengthscale ** 2)
    return cfg.signal_variance * np.exp((cos - 1.0) / cfg.lengthscale ** 2)
