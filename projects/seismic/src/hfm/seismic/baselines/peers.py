"""SeisBench's pretrained PhaseNetLight as a real peer, loaded from a local weights file (nothing downloads).

The `seismic/peers` catalogue data set (`hfm data fetch seismic/peers`) holds the weights and their settings
(phases PSN, peak normalisation). SeisBench is an optional dependency: without it the peer is reported as unavailable.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from hfm.shared.errors import HFMError

PEER_FILES = ("phasenetlight_ethz.pt.v2", "phasenetlight_ethz.json.v2")


class PhaseNetLightPeer:
    """Per-sample P, S, noise probabilities of PhaseNetLight (trained on ETHZ at 100 Hz, 3001-sample input)."""

    name = "PhaseNetLight (SeisBench, ETHZ)"
    sampling_rate = 100.0

    def __init__(self, folder: str | Path) -> None:
        weights, settings = (Path(folder) / f for f in PEER_FILES)
        if not weights.is_file():
            raise HFMError(f"{weights}: PhaseNetLight weights not found")
        try:
            import seisbench.models as sbm
        except ImportError as error:
            raise HFMError("the PhaseNetLight peer needs seisbench (pip install hfm-seismic[test])") from error
        args = json.loads(settings.read_text())["model_args"] if settings.is_file() else {}
        self.model = sbm.PhaseNetLight(phases=args.get("phases", "PSN"), norm=args.get("norm", "peak"))
        self.model.load_state_dict(torch.load(weights, weights_only=True, map_location="cpu"))
        self.model.eval()
        self.in_samples = int(self.model.in_samples)

    @torch.no_grad()
    def predict(self, waveforms: np.ndarray, batch_size: int = 16) -> np.ndarray:
        """(n, 3, T) ZNE at 100 Hz -> (n, 3, T) probabilities in the order P, S, noise.

        Windows shorter than the model input are zero-padded at the end and the output cropped back; longer ones
        are cut into consecutive model inputs.
        """
        n, _, length = waveforms.shape
        size = self.in_samples
        pieces = -(-length // size)
        padded = np.zeros((n, 3, pieces * size), dtype=np.float32)
        padded[:, :, :length] = waveforms
        chunks = padded.reshape(n, 3, pieces, size).transpose(0, 2, 1, 3).reshape(n * pieces, 3, size)
        out = []
        for start in range(0, len(chunks), batch_size):
            batch = torch.from_numpy(chunks[start : start + batch_size])
            batch = self.model.annotate_batch_pre(batch, {})
            out.append(self.model(batch).numpy())
        probs = np.concatenate(out).reshape(n, pieces, 3, size).transpose(0, 2, 1, 3).reshape(n, 3, pieces * size)
        return probs[:, :, :length]
