"""The seismic models: a masked autoencoder for pretraining and a phase picker + event detector for fine-tuning.

Both share one encoder layout (`encoder.embed`, `encoder.trunk`), so the weights of a pretrained MAE load into the
picker by name. The picker's head turns each token back into its L samples: per sample, logits for P, S and noise
(softmax) and for "inside an event" (sigmoid), refined by a short convolution that also sees the waveform itself so
onsets can be placed more finely than one patch. Optionally (`refiner_depth`), a stack of dilated convolutions at the
full sample rate over the waveform and those outputs adds a residual correction, as PhaseNet-like pickers decode at
sample resolution (issue 14); its last layer starts at zero, so an untrained refiner leaves the picker unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hfm.seismic.tokenizer import Normalization, WaveformTokenizer
from hfm.shared.errors import HFMError
from hfm.shared.models.encoder import TokenEncoder
from hfm.shared.models.mae import MAEConfig, MAEOutput, MaskedAutoencoder
from hfm.shared.models.registry import PretrainedConfig, register_model
from hfm.shared.models.trunk import TrunkConfig

PHASES = ("P", "S", "noise")
_OUTPUTS = len(PHASES) + 1  # + detection


class DilatedRefiner(nn.Module):
    """(B, C_in, T) -> (B, 4, T): `depth` dilated convolutions (dilation 1, 2, 4, ...) at the full rate, each a
    residual block, then a 1x1 output convolution initialised to zero. Kernel 5 and depth 6 see +-1.26 s (about
    PhaseNet's receptive field at 100 Hz), depth 8 +-5.1 s (the benchmark's, which reaches P from S)."""

    def __init__(self, inputs: int, depth: int, width: int = 16, kernel: int = 5) -> None:
        super().__init__()
        self.inp = nn.Conv1d(inputs, width, kernel_size=1)
        self.blocks = nn.ModuleList(
            nn.Conv1d(width, width, kernel, padding=(kernel // 2) * 2**i, dilation=2**i) for i in range(depth)
        )
        self.out = nn.Conv1d(width, _OUTPUTS, kernel_size=1)
        nn.init.zeros_(self.out.weight)  # starts as no correction: the picker without the refiner
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        for block in self.blocks:
            h = h + F.gelu(block(h))
        return self.out(h)


class PhasePicker(nn.Module):
    """(B, C, T) raw waveforms of any length -> (B, 4, T) logits: P, S, noise (softmax over 3) and detection."""

    def __init__(self, tokenizer: WaveformTokenizer, trunk: TrunkConfig, refiner_depth: int = 0) -> None:
        super().__init__()
        self.encoder = TokenEncoder(tokenizer, trunk)
        self.patch_len = tokenizer.patch_len
        self.head = nn.Linear(trunk.width, tokenizer.patch_len * _OUTPUTS)
        self.refine = nn.Conv1d(_OUTPUTS + tokenizer.channels, _OUTPUTS, kernel_size=9, padding=4)
        nn.init.zeros_(self.refine.weight)  # starts as the identity on the coarse output
        nn.init.zeros_(self.refine.bias)
        self.refiner = DilatedRefiner(_OUTPUTS + tokenizer.channels, refiner_depth) if refiner_depth else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[-1]
        x = WaveformTokenizer.normalize(x, self.encoder.tokenizer.normalization)
        pad = -length % self.patch_len
        padded = F.pad(x, (0, pad)) if pad else x
        tokens = self.encoder(padded)  # (B, N, width)
        batch, count, _ = tokens.shape
        coarse = self.head(tokens).view(batch, count, _OUTPUTS, self.patch_len)
        coarse = coarse.permute(0, 2, 1, 3).reshape(batch, _OUTPUTS, count * self.patch_len)[..., :length]
        features = torch.cat([coarse, x], dim=1)
        logits = coarse + self.refine(features)
        return logits if self.refiner is None else logits + self.refiner(features)

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, T) P/S/noise probabilities and (B, T) detection probability."""
        logits = self.forward(x)
        return logits[:, :3].softmax(dim=1), logits[:, 3].sigmoid()


class PickerEnsemble(nn.Module):
    """Pickers fine-tuned apart, answering as one (issue 14, h57): the mean of their P/S/noise probabilities and of
    their detection probability, returned as logits (log of the mean; logit of the mean), so whatever reads a picker
    (softmax over the first three channels, sigmoid of the fourth) reads the means. Members from different
    pretraining files differ; members fine-tuned from one file hardly do (h56), so their mean adds little. The
    detection slot is the mean probability, where h56/h57 averaged its logits: no score of theirs or the
    benchmark's reads that slot (detection is scored as 1 - the noise probability's minimum)."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise HFMError("PickerEnsemble: give at least one picker")
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [member(x) for member in self.members]
        phases = torch.stack([o[:, : len(PHASES)].softmax(dim=1) for o in outputs]).mean(0)
        detection = torch.stack([o[:, len(PHASES) :].sigmoid() for o in outputs]).mean(0)
        return torch.cat([phases.log(), torch.logit(detection, eps=1e-6)], dim=1)


class SpectralMAE(MaskedAutoencoder):
    """Masked autoencoder whose hidden patches are predicted as log-amplitude spectra, one per component.

    The phase of a 0.25 s stretch of noise or coda cannot be told from its context, so for raw samples the best
    guess under squared error is close to zero and the loss stays near the signal's variance (1.0 after
    normalisation) whatever the encoder learns. The amplitude spectrum of a hidden patch (how much energy, at which
    frequencies, on which component) is what the context does predict: the envelope of an arrival and its coda.
    """

    def target_dim(self) -> int:
        tokenizer = self.encoder.tokenizer
        return tokenizer.channels * (tokenizer.patch_len // 2 + 1)

    def targets(self, patches: torch.Tensor) -> torch.Tensor:
        tokenizer = self.encoder.tokenizer
        batch, tokens, _ = patches.shape
        samples = patches.reshape(batch, tokens, tokenizer.channels, tokenizer.patch_len)
        spectra = torch.fft.rfft(samples, dim=-1, norm="ortho").abs()
        return torch.log1p(spectra).reshape(batch, tokens, -1)

    def reconstruct(self, x: torch.Tensor, output: MAEOutput) -> torch.Tensor:
        raise HFMError("a spectral-target MAE predicts spectra, not waveforms: there is no waveform to reconstruct")


def picking_loss(
    logits: torch.Tensor, phase_targets: torch.Tensor, detection_targets: torch.Tensor
) -> tuple[torch.Tensor, dict[str, float]]:
    """Cross-entropy against the soft (Gaussian) P/S/noise targets plus binary cross-entropy of detection."""
    phase = -(phase_targets * logits[:, :3].log_softmax(dim=1)).sum(dim=1).mean()
    detection = F.binary_cross_entropy_with_logits(logits[:, 3], detection_targets)
    return phase + detection, {"phase_loss": float(phase.detach()), "detection_loss": float(detection.detach())}


_SIZES = {"tiny": (64, 2, 4), "small": (128, 4, 4), "base": (192, 6, 3)}


def _register(size: str) -> None:
    width, depth, heads = _SIZES[size]
    defaults = {
        "components": 3,
        "patch_len": 25,
        "width": width,
        "depth": depth,
        "heads": heads,
        "normalization": "window",
    }

    def picker(
        components: int = 3,
        patch_len: int = 25,
        width: int = width,
        depth: int = depth,
        heads: int = heads,
        normalization: Normalization = "window",
        refiner_depth: int = 0,
    ):
        return PhasePicker(
            WaveformTokenizer(components, patch_len, normalization),
            TrunkConfig(width=width, depth=depth, heads=heads),
            refiner_depth,
        )

    def mae(
        components: int = 3,
        patch_len: int = 25,
        width: int = width,
        depth: int = depth,
        heads: int = heads,
        mask_ratio: float = 0.6,
        block_size: int = 2,
        norm_targets: bool = True,
        target: str = "spectrum",
        normalization: Normalization = "window",
    ):
        if target not in ("waveform", "spectrum"):
            raise HFMError(f"seismic MAE target must be 'waveform' or 'spectrum', got {target!r}")
        encoder = TokenEncoder(
            WaveformTokenizer(components, patch_len, normalization), TrunkConfig(width=width, depth=depth, heads=heads)
        )
        return (SpectralMAE if target == "spectrum" else MaskedAutoencoder)(
            encoder,
            MAEConfig(
                mask_ratio=mask_ratio,
                block_size=block_size,
                norm_targets=norm_targets,
                decoder_width=64,
                decoder_depth=1,
                decoder_heads=4,
            ),
        )

    what = "(3, T) ZNE waveforms at 100 Hz, any T"
    register_model(
        f"seismic-picker-{size}",
        PretrainedConfig(
            f"seismic-picker-{size}",
            "encoder",
            size,
            "phase picker + detector on the shared trunk",
            what,
            dict(defaults),
        ),
    )(picker)
    register_model(
        f"seismic-mae-{size}",
        PretrainedConfig(
            f"seismic-mae-{size}", "mae", size, "masked autoencoder over 1D waveform patches", what, dict(defaults)
        ),
    )(mae)


for _size in _SIZES:
    _register(_size)
