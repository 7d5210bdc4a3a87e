"""The DDIM-style schedule of DiffMesh's reverse process (ARCHITECTURE.md §4.4, §4.7).

Parameter-free: nothing here is learned or stored in a checkpoint. The schedule is the
official one — β linear from 1e-4 to 1e-3 over ``N = clip_len + add_step`` steps, computed
in float64 and cast to float32, ᾱ as a float32 cumulative product with ᾱ(−1) = 1 — and
``step`` is the deterministic DDIM update with η = 0 (the official code multiplies its
noise term by zero; DEVIATIONS D-D3). No noise is ever drawn.
"""

from __future__ import annotations

import torch


class DDIMScheduler:
    """Deterministic DDIM (η = 0) over a short linear-β schedule.

    Usage, as in the reverse loop::

        scheduler.set_timesteps(30)
        for t in scheduler.timesteps:          # 29, 28, ..., 0
            eps = denoiser(z, cond, t)
            z = scheduler.step(eps, int(t), z)
    """

    def __init__(self, num_train_timesteps: int = 30, beta_start: float = 1e-4, beta_end: float = 1e-3) -> None:
        if num_train_timesteps < 1:
            raise ValueError(f"num_train_timesteps must be >= 1, got {num_train_timesteps}")
        self.num_train_timesteps = num_train_timesteps
        self.beta_start = beta_start
        self.beta_end = beta_end
        # float64 linspace cast to float32, exactly as the official schedule.
        self.betas = torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float64).float()
        # ᾱ(t) for t = −1 .. N−1: prepend β = 0, cumulative product of (1 − β) in float32.
        padded = torch.cat([torch.zeros(1), self.betas])
        self._alpha_bar = (1.0 - padded).cumprod(dim=0)  # index t + 1
        self.timesteps = torch.arange(num_train_timesteps - 1, -1, -1)
        # Per-step coefficients (√(1 − ᾱ(t)), √ᾱ(t), √ᾱ(t−1), √(1 − ᾱ(t−1))) computed once
        # in float32 and kept as Python floats holding those float32 values exactly: the
        # update's arithmetic is unchanged, without ~8 scalar-tensor ops per step.
        sqrt_ab, sqrt_1m = self._alpha_bar.sqrt(), (1 - self._alpha_bar).sqrt()
        self._coefs = [
            (float(sqrt_1m[t + 1]), float(sqrt_ab[t + 1]), float(sqrt_ab[t]), float(sqrt_1m[t]))
            for t in range(num_train_timesteps)
        ]

    def alpha_bar(self, t: int) -> torch.Tensor:
        """ᾱ(t) as a float32 scalar tensor; ``t = -1`` gives exactly 1."""
        if not -1 <= t < self.num_train_timesteps:
            raise ValueError(f"timestep {t} is outside the schedule [-1, {self.num_train_timesteps - 1}]")
        return self._alpha_bar[t + 1]

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        """ᾱ(0..N−1), float32 ``[N]``."""
        return self._alpha_bar[1:]

    def set_timesteps(self, num_inference_steps: int) -> None:
        """Use every step of the schedule, last to first (the official loop never skips)."""
        if num_inference_steps != self.num_train_timesteps:
            raise ValueError(
                f"num_inference_steps={num_inference_steps}: DiffMesh decodes one frame per step and "
                f"runs all {self.num_train_timesteps} steps (clip_len + add_step); strided sampling is not defined"
            )
        self.timesteps = torch.arange(num_inference_steps - 1, -1, -1)

    def step(self, model_output: torch.Tensor, timestep: int, sample: torch.Tensor) -> torch.Tensor:
        """One reverse step from ``t = timestep`` to ``t' = timestep − 1``.

        Symbols (DDIM, Song et al. 2021, eq. 12 with σ = 0):
            sample        x_t   current state
            model_output  ε̂     predicted noise
            alpha_t       ᾱ(t),  alpha_prev  ᾱ(t − 1)
            x0            x̂₀ = (x_t − √(1 − ᾱ(t)) ε̂) / √ᾱ(t)
            returns       x_{t−1} = √ᾱ(t−1) x̂₀ + √(1 − ᾱ(t−1)) ε̂
        At t = 0 the result equals x̂₀ exactly (ᾱ(−1) = 1).
        """
        if not 0 <= timestep < self.num_train_timesteps:
            raise ValueError(f"timestep {timestep} is outside the schedule [0, {self.num_train_timesteps - 1}]")
        noise_t, signal_t, signal_prev, noise_prev = self._coefs[timestep]
        x0 = (sample - model_output * noise_t) / signal_t
        return signal_prev * x0 + noise_prev * model_output
