"""`load_encoder`: start a model from a pretrained encoder, the same way in every domain, with its load report.

Fine-tuning from the wrong file fails quietly in most code bases (a few keys match, the rest stay random, the figure
looks like "pretraining does not help"). Here every encoder weight of the model must come from the file, with the
right shape; a shortfall is an error that says how many keys matched and which are missing.
"""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from hfm.shared.artifacts import LoadReport, load_weights, read_weights
from hfm.shared.errors import HFMError


def weights_file(path: str | Path) -> Path:
    """An exported model folder, a run's `final/` folder, or a `.safetensors` file -> the weights file."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.safetensors"
    if not path.is_file():
        raise HFMError(f"{path}: no pretrained weights here (an exported model folder or a model.safetensors)")
    return path


def artifact_model_name(path: str | Path) -> str | None:
    """The registered model name written in the artifact's config.json, when there is one."""
    config = weights_file(path).parent / "config.json"
    if not config.is_file():
        return None
    try:
        name = json.loads(config.read_text()).get("model")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return None
    return name if isinstance(name, str) else None


def load_encoder(
    model: nn.Module, path: str | Path, prefix: str = "encoder.", expected: str | tuple[str, ...] | None = None
) -> LoadReport:
    """Copy the pretrained encoder of `path` into `model`'s `prefix*` parameters; returns the load report.

    Every model key under `prefix` must be filled from the file with the same shape, else `HFMError`; `prefix=""`
    loads the whole model (tensors of the file the model lacks are left unused and named in the report). `expected`
    names the registered model (or models) the file must come from, where its config.json says what it is.
    """
    file = weights_file(path)
    if expected is not None:
        kinds = (expected,) if isinstance(expected, str) else tuple(expected)
        found = artifact_model_name(file)
        if found is not None and found not in kinds:
            raise HFMError(f"{file}: is a {found!r} model; expected {' or '.join(repr(k) for k in kinds)}")
    weights = {k: v for k, v in read_weights(file).items() if k.startswith(prefix)}
    if not weights:
        raise HFMError(f"{file}: holds no {prefix}* weights (is it a pretrained model of this domain?)")
    wanted = sorted(k for k in model.state_dict() if k.startswith(prefix))
    report = load_weights(model, weights)
    missing = [k for k in wanted if k not in set(report.matched)]
    if missing or report.mismatched:
        shapes = "; ".join(f"{k}: file {f}, model {m}" for k, f, m in report.mismatched[:3])
        raise HFMError(
            f"{file}: the {prefix.rstrip('.') or 'pretrained model'} does not fit this model ({report.summary()}); "
            + (f"missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}" if missing else shapes)
        )
    return report
