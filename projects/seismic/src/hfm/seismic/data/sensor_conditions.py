"""Labelled records as stations with other sensors would deliver them: the dev conditions of issue 14.

Why: the NCEDC dev stations have horizontals as quiet and well calibrated as their vertical (like the training
stations), so a dev score on them cannot tell a picker that leans on N and E from one that does not. Each condition
below changes only the horizontals of 3-component records (the vertical, the onsets and vertical-only records are
left alone), seeded per (seed, condition, record) so every picker is scored on the same perturbed records:

- `as recorded`: unchanged;
- `noisy horizontals`: each horizontal gets noise with the amplitude spectrum of its OWN pre-P noise (random phases)
  until its pre-P noise is r times the vertical's, r drawn log-uniformly in `HV_RATIOS` (from as quiet as the
  vertical to four times it); a horizontal already that noisy is left alone;
- `gain mismatch`: each horizontal scaled by a gain drawn log-uniformly in `GAINS` (a wrong or missing response);
- `dead horizontal`: N or E (drawn) is zero;
- `rotated horizontals`: the sensor turned by 90 degrees (N' = E, E' = -N), a misoriented installation.
"""

from __future__ import annotations

import numpy as np

from hfm.seismic.data.records import Records
from hfm.shared.errors import HFMError

CONDITIONS = ("as recorded", "noisy horizontals", "gain mismatch", "dead horizontal", "rotated horizontals")
HV_RATIOS = (1.0, 4.0)  # target pre-P noise std of a horizontal over the vertical's
GAINS = (0.25, 4.0)
PRE_P_GAP_S = 0.5  # the noise sample ends this long before P (emergent onsets)
MIN_NOISE_S = 2.0  # shorter pre-P stretches are replaced by the whole record


def pre_p_noise(wave: np.ndarray, p_sample: float, rate: float) -> np.ndarray:
    """(3, n) the stretch before P (ending `PRE_P_GAP_S` before it); the whole record where P is missing or the
    stretch is shorter than `MIN_NOISE_S`."""
    end = int(p_sample - PRE_P_GAP_S * rate) if np.isfinite(p_sample) else 0
    return wave[:, :end] if end >= MIN_NOISE_S * rate else wave


def coloured_noise(sample: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """(length,) noise of unit standard deviation with the amplitude spectrum of `sample` and random phases."""
    sample = sample.astype(np.float64) - sample.mean()
    spectrum = np.abs(np.fft.rfft(sample * np.hanning(len(sample))))
    # the sample's spectrum read at the output's frequencies (both grids span 0 to Nyquist)
    amplitude = np.interp(np.linspace(0, 1, length // 2 + 1), np.linspace(0, 1, len(spectrum)), spectrum)
    amplitude[0] = 0.0
    noise = np.fft.irfft(amplitude * np.exp(2j * np.pi * rng.random(len(amplitude))), n=length)
    scale = noise.std()
    return noise / scale if scale > 0 else noise


def _scale_to(own: np.ndarray, added: np.ndarray, target: float) -> float:
    """The a >= 0 with std(own + a * added) == target (0 when `own` is already that noisy): the realised ratio on
    the pre-P stretch is the drawn one, whatever the random phases gave there."""
    own, added = own - own.mean(), added - added.mean()
    var_added, cov, var_own = np.mean(added**2), np.mean(own * added), np.mean(own**2)
    if var_own >= target**2 or var_added == 0:
        return 0.0
    return float((-cov + np.sqrt(cov**2 + var_added * (target**2 - var_own))) / var_added)


def _perturb(wave: np.ndarray, p_sample: float, rate: float, condition: str, rng: np.random.Generator) -> np.ndarray:
    out = wave.astype(np.float64)  # a copy: the caller's record stays as recorded
    if condition == "noisy horizontals":
        stretch = pre_p_noise(out, p_sample, rate).shape[-1]
        noise = out[:, :stretch].copy()
        for row in (1, 2):
            target = noise[0].std() * np.exp(rng.uniform(*np.log(HV_RATIOS)))
            added = coloured_noise(noise[row], out.shape[-1], rng)
            out[row] += _scale_to(noise[row], added[:stretch], target) * added
    elif condition == "gain mismatch":
        out[1:] *= np.exp(rng.uniform(*np.log(GAINS), size=(2, 1)))
    elif condition == "dead horizontal":
        out[1 + int(rng.integers(2))] = 0.0
    elif condition == "rotated horizontals":
        out[1:] = np.stack([out[2], -out[1]])
    return out.astype(np.float32)


def under_condition(records: Records, condition: str, seed: int = 0) -> Records:
    """The records as `condition` delivers them (see the module docstring); onsets and metadata unchanged."""
    if condition not in CONDITIONS:
        raise HFMError(f"sensor condition {condition!r}: not one of {', '.join(map(repr, CONDITIONS))}")
    out = records.subset(np.arange(len(records)))
    if condition == "as recorded":
        return out
    index = CONDITIONS.index(condition)
    out.waveforms = [
        _perturb(wave, p, records.sampling_rate, condition, np.random.default_rng([seed, index, i]))
        if len(comps) == 3
        else wave
        for i, (wave, p, comps) in enumerate(zip(records.waveforms, records.p_sample, records.components, strict=True))
    ]
    out.name = f"{records.name} ({condition})"
    return out
