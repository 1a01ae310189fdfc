"""Synthetic 3-component local-earthquake records with known P and S onsets, for scale and for exact labels.

Each record is built the way a local seismogram forms:
- source: a Brune omega-square spectrum, corner frequency from the magnitude (Brune 1970, stress drop 1-10 MPa);
- path: P and S travel times for a random hypocentral distance (Vp 5.5-6.5 km/s, Vp/Vs 1.65-1.85), anelastic
  attenuation exp(-pi f t / Q), S/P amplitude ratio 2-8, P strongest on Z and S on the horizontals, with a random
  back-azimuth and incidence;
- coda: each arrival decays fast into scattered energy that decays slowly (3-10 s), so P coda lasts until S; after
  S, incoherent coda on all components;
- noise: coloured (1/f^a background plus a microseism peak at 0.1-0.3 Hz), independent per component;
- SNR: uniform in dB between `snr_db` bounds, as the ratio of the P peak to the noise standard deviation.
Noise-only records (a `noise_fraction`) carry no onsets. Everything derives from one seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SyntheticConfig:
    sampling_rate: float = 100.0
    samples: int = 3000
    noise_fraction: float = 0.25
    magnitude: tuple[float, float] = (0.5, 3.5)
    distance_km: tuple[float, float] = (5.0, 80.0)
    snr_db: tuple[float, float] = (0.0, 25.0)
    p_window: tuple[float, float] = (0.05, 0.5)  # P falls in this fraction of the record


@dataclass
class SyntheticRecords:
    waveforms: np.ndarray  # (n, 3, samples) float32, ZNE
    p_sample: np.ndarray  # (n,) float, NaN for noise records or an S beyond the window
    s_sample: np.ndarray
    snr_db: np.ndarray
    magnitude: np.ndarray
    distance_km: np.ndarray
    sampling_rate: float

    @property
    def is_event(self) -> np.ndarray:
        return ~np.isnan(self.p_sample)


def coloured_noise(rng: np.random.Generator, samples: int, rate: float) -> np.ndarray:
    """One component of ambient noise with unit standard deviation: 1/f^a background and a microseism peak."""
    freqs = np.fft.rfftfreq(samples, 1 / rate)
    f = np.maximum(freqs, freqs[1])
    slope = rng.uniform(0.5, 1.5)
    peak = rng.uniform(0.1, 0.3)
    amplitude = f ** (-slope / 2) + rng.uniform(2, 10) * np.exp(-0.5 * ((f - peak) / (0.3 * peak)) ** 2)
    amplitude[0] = 0.0
    spectrum = amplitude * np.exp(2j * np.pi * rng.random(len(freqs)))
    trace = np.fft.irfft(spectrum, n=samples)
    return trace / (trace.std() + 1e-12)


def _phase_pulse(
    rng: np.random.Generator, samples: int, rate: float, corner: float, q_factor: float, travel: float, decay_s: float
) -> np.ndarray:
    """A burst starting at sample 0: Brune-spectrum random-phase signal under an onset-and-decay envelope."""
    freqs = np.fft.rfftfreq(samples, 1 / rate)
    source = 1.0 / (1.0 + (freqs / corner) ** 2)
    attenuation = np.exp(-np.pi * freqs * travel / q_factor)
    spectrum = source * attenuation * np.exp(2j * np.pi * rng.random(len(freqs)))
    signal = np.fft.irfft(spectrum, n=samples)
    t = np.arange(samples) / rate
    rise = rng.uniform(0.05, 0.3)
    # A direct arrival decays fast into scattered coda that lasts: P coda keeps ringing until S arrives.
    direct = rng.uniform(0.5, 0.8)
    envelope = (1 - np.exp(-t / rise)) * (
        direct * np.exp(-t / decay_s) + (1 - direct) * np.exp(-t / rng.uniform(3, 10))
    )
    pulse = signal * envelope
    return pulse / (np.abs(pulse).max() + 1e-12)


def generate(n: int, seed: int = 0, config: SyntheticConfig | None = None) -> SyntheticRecords:
    config = config or SyntheticConfig()
    rng = np.random.default_rng(seed)
    rate, samples = config.sampling_rate, config.samples
    waveforms = np.zeros((n, 3, samples), dtype=np.float32)
    p_sample = np.full(n, np.nan)
    s_sample = np.full(n, np.nan)
    snr_db = np.full(n, np.nan)
    magnitude = np.full(n, np.nan)
    distance = np.full(n, np.nan)
    for i in range(n):
        noise = np.stack([coloured_noise(rng, samples, rate) for _ in range(3)])
        noise *= rng.uniform(0.7, 1.3, size=(3, 1))
        if rng.random() < config.noise_fraction:
            waveforms[i] = noise
            continue
        mag = rng.uniform(*config.magnitude)
        dist = rng.uniform(*config.distance_km)
        depth = rng.uniform(2, 20)
        hypo = np.hypot(dist, depth)
        vp = rng.uniform(5.5, 6.5)
        vs = vp / rng.uniform(1.65, 1.85)
        tp, ts = hypo / vp, hypo / vs
        p_at = int(rng.uniform(*config.p_window) * samples)
        s_at = p_at + round((ts - tp) * rate)
        # Brune corner frequency for a stress drop of 1-10 MPa; clipped to the band the record can carry.
        moment = 10 ** (1.5 * mag + 9.1)
        stress = rng.uniform(1e6, 1e7)
        corner = min(0.4906 * 3500 * (stress / moment) ** (1 / 3), 0.4 * rate)
        q_factor = rng.uniform(200, 600)
        incidence = np.deg2rad(rng.uniform(10, 40))
        azimuth = rng.uniform(0, 2 * np.pi)
        signal = np.zeros((3, samples))
        p = _phase_pulse(rng, samples - p_at, rate, corner, q_factor, tp, rng.uniform(0.5, 2.0))
        p_dir = np.array([np.cos(incidence), np.sin(incidence) * np.cos(azimuth), np.sin(incidence) * np.sin(azimuth)])
        signal[:, p_at:] += p_dir[:, None] * p
        s_ratio = rng.uniform(2, 8)
        if s_at < samples:
            s = _phase_pulse(rng, samples - s_at, rate, corner * 0.7, q_factor, ts, rng.uniform(0.8, 3.0))
            coda_t = np.arange(samples - s_at) / rate
            coda = rng.standard_normal((3, samples - s_at)) * np.exp(-coda_t / rng.uniform(2, 8)) * 0.25
            s_dir = np.array([rng.uniform(0.1, 0.3), -np.sin(azimuth), np.cos(azimuth)])
            signal[:, s_at:] += s_ratio * (s_dir[:, None] * s + coda)
            s_sample[i] = s_at
        snr = rng.uniform(*config.snr_db)
        p_peak = np.abs(signal[:, p_at : min(s_at, samples)]).max()
        signal *= 10 ** (snr / 20) / (p_peak + 1e-12)
        waveforms[i] = (signal + noise).astype(np.float32)
        p_sample[i], snr_db[i], magnitude[i], distance[i] = p_at, snr, mag, dist
    return SyntheticRecords(waveforms, p_sample, s_sample, snr_db, magnitude, distance, rate)
