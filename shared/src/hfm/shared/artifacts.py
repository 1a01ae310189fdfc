"""Portable model artifacts: a folder anyone can load without running code from it.

| file | content |
|---|---|
| `model.safetensors` | the weights (state dict); header: `format: pt`, `hfm.model`, `hfm.args_sha256`, version |
| `config.json` | how to rebuild the model: registered name and keyword arguments, parameter count, weights sha256 |
| `model_card.json` | the model card: data card reference, training config, metrics, licence, intended use, limits |
| `README.md` | the same card for people |

Loading reads JSON and safetensors only. A pickle, a `torch.save` zip or any other file is refused before a byte of
it is interpreted, so a crafted file cannot run code. Weights load by name: a trunk exported from one domain's model
fills the `trunk.` keys of another domain's model; `LoadReport` lists the keys that matched, those the model has and
the file lacks (new, left initialised), those the file has and the model lacks (unused) and shape mismatches.
A caller that needs one kind of model says so (`load_pretrained(path, expected="seismic-picker*")`): an artifact of
another kind is refused in one line naming what it is and what was expected, before any weights are read.

The card of a run trained with model selection (`validation.every` > 0) records the chosen step, its validation
score and every validation (`ModelCard.selection`), and its metrics are the validation metrics of that step.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, Field, field_validator
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_save
from torch import nn

from hfm.shared import __version__
from hfm.shared.errors import HFMError
from hfm.shared.hashing import sha256_bytes, sha256_file
from hfm.shared.jsonio import dump_json, write_atomic
from hfm.shared.safetensors_header import sorted_metadata

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
CARD_JSON = "model_card.json"
CARD_MD = "README.md"
ARTIFACT_FORMAT = "hfm-model"
_PICKLE_OR_ZIP = (b"\x80", b"PK\x03\x04")  # pickle protocol 2+ opcode, torch.save's zip container


class DataCardReference(BaseModel):
    """Which curated dataset trained the model: enough to find and check its card."""

    name: str
    version: str | None = None
    license: str | None = None
    path: str | None = None
    sha256: str | None = None  # of the dataset's card.json

    @classmethod
    def from_dataset(cls, root: str | Path) -> DataCardReference:
        card = Path(root) / "card.json"
        if not card.exists():
            raise HFMError(f"{card}: missing; a model card references a curated dataset's card")
        data = json.loads(card.read_text())
        return cls(
            name=data["name"],
            version=data.get("version"),
            license=data.get("license"),
            path=str(root),
            sha256=sha256_file(card),
        )


class ModelCard(BaseModel):
    name: str
    description: str = ""
    license: str = "Apache-2.0"
    intended_use: str
    limitations: str
    data: list[DataCardReference] = Field(default_factory=list)
    training: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    # How the exported step was chosen (the run's selection.json): metric, mode, best_step, best_score, last_step,
    # stopped_early, history of every validation. None when the run had no validation.
    selection: dict[str, Any] | None = None
    authors: list[str] = Field(default_factory=list)
    citation: str | None = None

    @field_validator("intended_use", "limitations")
    @classmethod
    def _said(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a model card must state intended use and limitations")
        return value

    def markdown(self, config: dict[str, Any]) -> str:
        lines = [f"# {self.name}", ""] + ([self.description, ""] if self.description else [])
        lines += [
            "## Model",
            "",
            f"- architecture: `{config.get('model')}` with `{json.dumps(config.get('args', {}), sort_keys=True)}`",
        ]
        lines += [f"- parameters: {config.get('parameters', '?'):,}", f"- licence: {self.license}", ""]
        lines += ["## Intended use", "", self.intended_use, "", "## Limitations", "", self.limitations, ""]
        lines += ["## Training data", ""]
        lines += [
            f"- {d.name} {d.version or ''} ({d.license or 'licence ?'}), card sha256 `{d.sha256}`" for d in self.data
        ]
        lines += ([] if self.data else ["- not stated"]) + [""]
        if self.metrics:
            lines += ["## Metrics", "", "| metric | value |", "|---|---|"]
            lines += [f"| {k} | {v:.6g} |" for k, v in sorted(self.metrics.items())] + [""]
        if self.selection:
            lines += _selection_markdown(self.selection)
        if self.training:
            lines += [
                "## Training configuration",
                "",
                "```json",
                json.dumps(self.training, indent=2, sort_keys=True),
                "```",
                "",
            ]
        lines += [
            "## Loading",
            "",
            "```python",
            "from hfm.shared.artifacts import load_pretrained",
            "",
            "model, report = load_pretrained(PATH)",
            "```",
            "",
        ]
        if self.citation:
            lines += ["## Citation", "", self.citation, ""]
        return "\n".join(lines)


def _selection_markdown(selection: dict[str, Any]) -> list[str]:
    metric, history = selection.get("metric"), selection.get("history", [])
    stop = "stopped early for want of improvement" if selection.get("stopped_early") else "ran to the end"
    lines = [
        "## Model selection",
        "",
        f"The exported weights are those of step {selection.get('best_step')} of {selection.get('last_step')}, "
        f"chosen on the validation split by `{metric}` ({selection.get('mode')}): {selection.get('best_score'):.6g}. "
        f"Validated every {selection.get('every')} steps, patience {selection.get('patience')}; {stop}.",
        "",
    ]
    if history:
        names = sorted({key for row in history for key in row if key != "step"})
        lines += ["| step | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for row in history:
            mark = " (chosen)" if row.get("step") == selection.get("best_step") else ""
            values = " | ".join(f"{row[name]:.6g}" if name in row else "" for name in names)
            lines.append(f"| {row.get('step')}{mark} | {values} |")
        lines.append("")
    return lines


def model_config(model: nn.Module, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The registry name and arguments that rebuild `model` (recorded by `create_model`), merged with `config`."""
    merged = dict(getattr(model, "hfm_model", {}))
    merged.update(config or {})
    if "name" in merged and "model" not in merged:
        merged["model"] = merged.pop("name")
    return merged


def export_model(model: nn.Module, out_dir: str | Path, config: dict[str, Any], card: ModelCard) -> Path:
    """Writes the artifact folder; the same model and card always give the same bytes. Returns the folder.

    `config` needs `model` (a registered name) and `args` (its keywords) unless the model came from `create_model`,
    which records them; other keys are kept in config.json as they are.
    """
    out = Path(out_dir)
    config = model_config(model, config)
    if "model" not in config:
        raise HFMError(
            "export_model: config needs `model` (a registered name) and `args` so the artifact can be rebuilt"
        )
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    shared = _shared_storage(state)
    if shared:
        raise HFMError(f"export_model: tensors share memory ({', '.join(shared[:3])}); untie them before export")
    # The header names what the weights are, so a safetensors file alone says which model and arguments made it.
    header = {
        "format": "pt",
        "hfm.artifact_format": ARTIFACT_FORMAT,
        "hfm.model": str(config["model"]),
        "hfm.args_sha256": sha256_bytes(dump_json(config.get("args", {})).encode()),
        "hfm.shared_version": __version__,
    }
    weights = sorted_metadata(safetensors_save(state, metadata=header))
    full = {
        **config,
        "format": ARTIFACT_FORMAT,
        "format_version": 1,
        "hfm_shared_version": __version__,
        "parameters": int(sum(v.numel() for v in state.values())),
        "weights_sha256": sha256_bytes(weights),
    }
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / WEIGHTS, weights)
    write_atomic(out / CONFIG, dump_json(full))
    write_atomic(out / CARD_JSON, dump_json(card.model_dump(mode="json")))
    write_atomic(out / CARD_MD, card.markdown(full))
    return out


def _shared_storage(state: dict[str, torch.Tensor]) -> list[str]:
    seen: dict[int, str] = {}
    clashes = []
    for key, tensor in state.items():
        ptr = tensor.untyped_storage().data_ptr()
        if ptr and ptr in seen:
            clashes.append(f"{seen[ptr]}={key}")
        seen.setdefault(ptr, key)
    return clashes


@dataclass
class LoadReport:
    matched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the model, not in the file: new, left as initialised
    unused: list[str] = field(default_factory=list)  # in the file, not in the model
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)  # key, file, model
    mapping: str = "identity"  # how file keys were renamed to meet the model's

    def summary(self) -> str:
        text = f"{len(self.matched)} matched, {len(self.missing)} new, {len(self.unused)} unused"
        text += f", {len(self.mismatched)} shape mismatches" if self.mismatched else ""
        return text + (f" (keys {self.mapping})" if self.mapping != "identity" else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "missing": self.missing,
            "unused": self.unused,
            "mismatched": [{"key": k, "file": list(f), "model": list(m)} for k, f, m in self.mismatched],
            "mapping": self.mapping,
        }


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """Reads a safetensors file; anything else (pickle, torch zip, garbage) is refused without interpreting it."""
    path = Path(path)
    if not path.is_file():
        raise HFMError(f"{path}: no such weights file")
    with open(path, "rb") as handle:
        head = handle.read(9)
    # A safetensors file starts with an 8-byte little-endian header length, then "{": a length whose first byte
    # is 0x80 looks like a pickle's opening byte, so the JSON brace decides before the pickle check does.
    is_safetensors = len(head) == 9 and head[8:9] == b"{"
    pickle_named = path.suffix in {".pt", ".pth", ".bin", ".pkl", ".pickle", ".ckpt"}
    if pickle_named or (not is_safetensors and head.startswith(_PICKLE_OR_ZIP)):
        raise HFMError(
            f"{path}: refused, it is (or is named as) a pickle or torch.save file, which can run code when loaded; "
            "only safetensors weights are read"
        )
    if not is_safetensors:
        raise HFMError(f"{path}: not a safetensors file (no JSON header after the 8-byte length)")
    try:
        with safe_open(str(path), framework="pt") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 (safe_open has no iterator)
    except (SafetensorError, OSError, ValueError) as error:
        raise HFMError(f"{path}: damaged safetensors file ({error})") from error


_PREFIXES = ("", "encoder.", "trunk.", "encoder.trunk.")


def _best_mapping(file_keys: list[str], model_keys: set[str]) -> tuple[str, dict[str, str]]:
    """Rename file keys by stripping one known prefix and adding another, choosing what matches most model keys.

    This is what lets a whole MAE (`encoder.trunk.*`), an encoder (`trunk.*`) or a bare trunk (`blocks.*`) exported
    by one domain initialise the trunk of another domain's encoder or MAE.
    """
    best = ("identity", {k: k for k in file_keys})
    best_hits = sum(k in model_keys for k in file_keys)
    for strip in _PREFIXES:
        for add in _PREFIXES:
            if strip == add:
                continue
            renamed = {k: add + k.removeprefix(strip) for k in file_keys if k.startswith(strip)}
            hits = sum(v in model_keys for v in renamed.values())
            if hits > best_hits:
                best, best_hits = (f"'{strip}*' -> '{add}*'", renamed), hits
    return best


def load_weights(model: nn.Module, weights: dict[str, torch.Tensor], strict: bool = False) -> LoadReport:
    """Copies tensors into `model` by name (after the best prefix mapping); never fails on a mismatch unless strict."""
    model_state = model.state_dict()
    mapping_name, mapping = _best_mapping(list(weights), set(model_state))
    report = LoadReport(mapping=mapping_name)
    report.unused = sorted(k for k in weights if k not in mapping or mapping[k] not in model_state)
    to_load = {}
    for source, target in sorted(mapping.items(), key=lambda kv: kv[1]):
        if target not in model_state:
            continue
        if tuple(weights[source].shape) != tuple(model_state[target].shape):
            report.mismatched.append((target, tuple(weights[source].shape), tuple(model_state[target].shape)))
            continue
        to_load[target] = weights[source].to(model_state[target].dtype)
        report.matched.append(target)
    report.missing = sorted(k for k in model_state if k not in to_load and k not in {m[0] for m in report.mismatched})
    if strict and (report.missing or report.unused or report.mismatched):
        raise HFMError(f"strict load failed: {report.summary()}")
    model.load_state_dict(to_load, strict=False)
    return report


def read_config(path: str | Path) -> dict[str, Any]:
    folder = Path(path)
    config_path = folder / CONFIG
    if not config_path.is_file():
        raise HFMError(f"{config_path}: missing; an artifact folder holds {WEIGHTS}, {CONFIG} and its card")
    try:
        config = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise HFMError(f"{config_path}: not valid JSON ({error})") from error
    if not isinstance(config, dict) or config.get("format") != ARTIFACT_FORMAT:
        raise HFMError(f"{config_path}: field `format` must be {ARTIFACT_FORMAT!r}")
    return config


def _check_declared_size(config_path: Path, config: dict[str, Any], weights: dict[str, torch.Tensor]) -> None:
    """Size the model config.json describes, counted on the meta device (nothing allocated), before building it.

    A tampered `args` (say `width: 10000000`) would otherwise allocate gigabytes before the weights fail to fit.
    """
    from hfm.shared.models.registry import create_model
    from hfm.shared.safety.budget import current_budget

    try:
        with torch.device("meta"):
            probe = create_model(config["model"], **config.get("args", {}))
    except HFMError:
        raise
    except Exception:  # a factory that cannot run on the meta device: the checksum and strict load remain
        return
    declared = sum(p.numel() for p in probe.parameters())
    held = sum(t.numel() for t in weights.values())
    limit = current_budget().max_model_parameters
    if declared > limit:
        raise HFMError(
            f"{config_path}: `args` build {declared:,} parameters, above the limit of {limit:,} "
            "(raise HFM_MAX_MODEL_PARAMETERS to allow more)"
        )
    if declared > held:
        raise HFMError(f"{config_path}: `args` build {declared:,} parameters, the weights file holds {held:,}")


def check_kind(path: str | Path, config: dict[str, Any], expected: str | Sequence[str]) -> None:
    """Refuse, in one line, an artifact whose registered model matches none of the shell-style patterns `expected`."""
    patterns = [expected] if isinstance(expected, str) else list(expected)
    name = config.get("model")
    if isinstance(name, str) and any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns):
        return
    wanted = " or ".join(f"`{pattern}`" for pattern in patterns)
    raise HFMError(f"{path}: is a `{name}` model{_kind_of(name)}, expected {wanted}")


def _kind_of(name: Any) -> str:
    """' (masked autoencoder: ...)' from the registry where the name is registered, else ''."""
    if not isinstance(name, str):
        return ""
    from hfm.shared.models.registry import model_info

    try:
        info = model_info(name).pretrained
    except HFMError:
        return ""
    kind = {"mae": "masked autoencoder", "encoder": "encoder", "trunk": "bare trunk"}.get(info.architecture)
    return f" ({kind})" if kind else ""


def load_pretrained(
    path: str | Path,
    model: nn.Module | None = None,
    strict: bool = False,
    expected: str | Sequence[str] | None = None,
) -> tuple[nn.Module, LoadReport]:
    """Loads an artifact folder (or a bare .safetensors file into a given `model`).

    With `model=None` the model is rebuilt from config.json through the registry and must match exactly; with a
    model (e.g. another domain's encoder) the weights fill what matches and the report says what did not. `expected`
    (registered names or shell patterns, e.g. "seismic-picker*") refuses an artifact of another kind in one line.
    """
    from hfm.shared.models.registry import create_model

    path = Path(path)
    if path.is_file():
        if model is None:
            raise HFMError(f"{path}: a bare weights file needs a model to load into; pass an artifact folder instead")
        return model, load_weights(model, read_weights(path), strict)
    config = read_config(path)
    if expected is not None:
        check_kind(path, config, expected)
    weights_path = path / WEIGHTS
    expected = config.get("weights_sha256")
    if expected and sha256_file(weights_path) != expected:
        raise HFMError(f"{weights_path}: checksum differs from config.json `weights_sha256` (file changed or damaged)")
    weights = read_weights(weights_path)
    rebuilt = model is None
    if rebuilt:
        if not isinstance(config.get("args", {}), dict) or not isinstance(config.get("model"), str):
            raise HFMError(f"{path / CONFIG}: fields `model` (a name) and `args` (an object) are required")
        _check_declared_size(path / CONFIG, config, weights)
        model = create_model(config["model"], **config.get("args", {}))
    report = load_weights(model, weights, strict=strict or rebuilt)
    return model, report


def load_card(path: str | Path) -> ModelCard:
    card_path = Path(path) / CARD_JSON
    if not card_path.is_file():
        raise HFMError(f"{card_path}: missing")
    return ModelCard.model_validate_json(card_path.read_text())


def _last_metrics(run_dir: Path) -> dict[str, float]:
    """The numbers of the last line of the run's metrics.jsonl (the state the exported weights were in)."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return {}
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        return {}
    rows = [json.loads(line) for line in lines]
    training = [row for row in rows if not any(str(key).startswith("val_") for key in row)]
    last = (training or rows)[-1]
    return {k: float(v) for k, v in last.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def _read_selection(run: Path) -> dict[str, Any] | None:
    path = run / "selection.json"
    if not path.is_file():
        return None
    try:
        selection = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise HFMError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(selection, dict) or not isinstance(selection.get("history", []), list):
        raise HFMError(f"{path}: expected an object with `best_step`, `best_score` and a `history` list")
    return selection


def export_run(
    run_dir: str | Path,
    out_dir: str | Path,
    *,
    intended_use: str,
    limitations: str,
    license: str = "Apache-2.0",
    name: str | None = None,
    description: str = "",
    authors: list[str] | None = None,
    ema: bool = False,
) -> tuple[Path, LoadReport]:
    """Rebuilds a training run's model from its config.yaml, loads its final (or newest checkpoint) weights and
    exports them with a card holding the training config, the last logged metrics and the training data's card."""
    from hfm.shared.train.checkpoint import load_latest
    from hfm.shared.train.config import config_to_dict, load_config
    from hfm.shared.train.task import build_task

    run = Path(run_dir)
    config = load_config(run / "config.yaml")
    task = build_task(config.task.name, dict(config.task.options))
    model = task.build_model()
    if not hasattr(model, "hfm_model"):
        raise HFMError(
            f"{run}: task {config.task.name!r} builds its model outside the registry; it cannot be rebuilt from JSON"
        )
    final = run / "final" / ("ema.safetensors" if ema else "model.safetensors")
    if final.is_file():
        weights, source = read_weights(final), str(final.relative_to(run))
    else:
        checkpoint = load_latest(run / "checkpoints")
        group = "ema" if ema else "model"
        if checkpoint is None or group not in checkpoint.tensors:
            raise HFMError(f"{run}: no {final.relative_to(run)} and no valid checkpoint holding {group} weights")
        weights, source = checkpoint.tensors[group], f"{checkpoint.path.relative_to(run)}/{group}.safetensors"
    report = load_weights(model, weights, strict=True)
    data = []
    dataset = config.task.options.get("dataset")
    if dataset and (Path(dataset) / "card.json").is_file():
        data.append(DataCardReference.from_dataset(dataset))
    training = {**config_to_dict(config), "weights_from": source}
    selection = _read_selection(run) if source.startswith("final/") else None
    metrics = _last_metrics(run)
    if selection is not None:
        chosen = [row for row in selection.get("history", []) if row.get("step") == selection.get("best_step")]
        metrics = {f"val_{k}": float(v) for k, v in (chosen[0] if chosen else {}).items() if k != "step"}
        training["weights_from"] = f"{source} (step {selection.get('best_step')}, chosen on validation)"
    card = ModelCard(
        name=name or Path(out_dir).name,
        description=description,
        license=license,
        intended_use=intended_use,
        limitations=limitations,
        data=data,
        training=training,
        metrics=metrics,
        selection=selection,
        authors=authors or [],
    )
    return export_model(model, out_dir, {}, card), report
