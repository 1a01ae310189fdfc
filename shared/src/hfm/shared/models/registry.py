"""A timm-style model registry: factories registered by name, listed by pattern, created with overrides.

    @register_model("my-encoder-tiny", PretrainedConfig(...))
    def my_encoder_tiny(channels: int = 3, **trunk) -> nn.Module: ...

    list_models("*-mae-*")               # ['image-mae-base', 'image-mae-small', ...]
    create_model("series-mae-tiny", channels=3, patch_len=20)

Every keyword of a factory must be JSON-serialisable: `create_model` records the name and keywords on the model
(`model.hfm_model = {"name": ..., "args": ...}`) so `hfm.shared.artifacts.export_model` can write them to
`config.json` and `load_pretrained` can rebuild the same model from JSON alone. Domains register their own models
the same way from their packages.
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from torch import nn

from hfm.shared.errors import HFMError
from hfm.shared.models.encoder import TokenEncoder
from hfm.shared.models.generic_tokenizers import ImageTokenizer, SeriesTokenizer
from hfm.shared.models.mae import MAEConfig, MaskedAutoencoder
from hfm.shared.models.trunk import Trunk, TrunkConfig

TRUNK_CONFIGS: dict[str, TrunkConfig] = {
    "tiny": TrunkConfig(width=192, depth=6, heads=3),
    "small": TrunkConfig(width=384, depth=12, heads=6),
    "base": TrunkConfig(width=768, depth=12, heads=12),
}


@dataclass(frozen=True)
class PretrainedConfig:
    """What a registered model is and where its weights come from (a local artifact folder; nothing downloads)."""

    name: str
    architecture: str  # "trunk", "encoder" or "mae"
    trunk: str  # "tiny" | "small" | "base" or a domain's own
    description: str
    input: str = "any tokens"  # what data the model takes
    default_args: dict[str, Any] = field(default_factory=dict)
    artifact: str | None = None  # path of an exported artifact folder with weights, if one is shipped
    license: str | None = None


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    factory: Callable[..., nn.Module]
    pretrained: PretrainedConfig


_MODELS: dict[str, RegisteredModel] = {}


def register_model(
    name: str, pretrained: PretrainedConfig | None = None
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    def decorate(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS and _MODELS[name].factory is not factory:
            raise HFMError(f"model name {name!r} is already registered by {_MODELS[name].factory.__module__}")
        info = pretrained or PretrainedConfig(name=name, architecture="?", trunk="?", description=factory.__doc__ or "")
        _MODELS[name] = RegisteredModel(name, factory, info)
        return factory

    return decorate


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching a shell-style pattern, sorted."""
    _load_domain_models()
    return sorted(n for n in _MODELS if fnmatch.fnmatchcase(n, pattern))


def model_info(name: str) -> RegisteredModel:
    _load_domain_models()
    if name not in _MODELS:
        close = [n for n in _MODELS if name.split("-")[0] in n][:8]
        hint = f"; similar: {', '.join(close)}" if close else f"; `hfm models list` shows all {len(_MODELS)}"
        raise HFMError(f"unknown model {name!r}{hint}")
    return _MODELS[name]


def create_model(name: str, **overrides: Any) -> nn.Module:
    """Builds a registered model; `overrides` replace the factory's keyword defaults (unknown ones are an error)."""
    entry = model_info(name)
    accepted = inspect.signature(entry.factory).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        unknown = sorted(set(overrides) - set(accepted))
        if unknown:
            raise HFMError(f"model {name!r} takes no argument {', '.join(unknown)}; it takes {', '.join(accepted)}")
    args = {**entry.pretrained.default_args, **overrides}
    try:
        model = entry.factory(**args)
    except TypeError as error:
        raise HFMError(f"model {name!r}: {error}") from error
    model.hfm_model = {"name": name, "args": args}
    return model


_domains_loaded = False


def _load_domain_models() -> None:
    """Installed domain packages register their models when their plugin is imported; do that once."""
    global _domains_loaded
    if _domains_loaded:
        return
    _domains_loaded = True
    from hfm.shared.plugins import installed_domains

    for domain in installed_domains():
        try:
            domain.load()
        except HFMError:
            continue  # a broken domain must not hide the core's models; `hfm domains` reports it


def trunk_config(size: str | TrunkConfig, **overrides: Any) -> TrunkConfig:
    """A named trunk configuration (tiny, small, base; `trunk-` prefix allowed) with field overrides."""
    if isinstance(size, TrunkConfig):
        base = size
    else:
        key = size.removeprefix("trunk-")
        if key not in TRUNK_CONFIGS:
            raise HFMError(f"unknown trunk {size!r}; known: {', '.join(f'trunk-{k}' for k in TRUNK_CONFIGS)}")
        base = TRUNK_CONFIGS[key]
    known = {f.name for f in fields(TrunkConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise HFMError(f"trunk has no field {', '.join(unknown)}; fields: {', '.join(sorted(known))}")
    return replace(base, **overrides)


def _split(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    trunk_fields = {f.name for f in fields(TrunkConfig)}
    mae_fields = {f.name for f in fields(MAEConfig)}
    unknown = sorted(set(kwargs) - trunk_fields - mae_fields)
    if unknown:
        raise HFMError(f"unknown model argument {', '.join(unknown)}")
    return {k: v for k, v in kwargs.items() if k in trunk_fields}, {k: v for k, v in kwargs.items() if k in mae_fields}


def _register_core_models() -> None:
    inputs = {
        "series": ("(C, T) series cut into windows along T", SeriesTokenizer, {"channels": 1, "patch_len": 16}),
        "image": ("(C, H, W) images cut into squares", ImageTokenizer, {"channels": 1, "patch": 8}),
    }
    for size, trunk in TRUNK_CONFIGS.items():
        shape = f"width {trunk.width}, depth {trunk.depth}, heads {trunk.heads}"

        def make_trunk(_size: str = size, **overrides: Any) -> nn.Module:
            return Trunk(trunk_config(_size, **overrides))

        register_model(
            f"trunk-{size}",
            PretrainedConfig(f"trunk-{size}", "trunk", size, f"shared Transformer trunk ({shape})", "token vectors"),
        )(make_trunk)

        for kind, (what, tokenizer_cls, defaults) in inputs.items():

            def make_encoder(_size=size, _cls=tokenizer_cls, **kwargs: Any) -> nn.Module:
                tok_args = {k: kwargs.pop(k) for k in list(kwargs) if k in inspect.signature(_cls).parameters}
                trunk_args, mae_args = _split(kwargs)
                if mae_args:
                    raise HFMError(f"an encoder takes no MAE argument ({', '.join(mae_args)})")
                return TokenEncoder(_cls(**tok_args), trunk_config(_size, **trunk_args))

            def make_mae(_size=size, _cls=tokenizer_cls, **kwargs: Any) -> nn.Module:
                tok_args = {k: kwargs.pop(k) for k in list(kwargs) if k in inspect.signature(_cls).parameters}
                trunk_args, mae_args = _split(kwargs)
                encoder = TokenEncoder(_cls(**tok_args), trunk_config(_size, **trunk_args))
                return MaskedAutoencoder(encoder, MAEConfig(**mae_args))

            for arch, factory, description in (
                ("encoder", make_encoder, f"{kind} tokenizer + trunk-{size}"),
                ("mae", make_mae, f"masked autoencoder: {kind} tokenizer + trunk-{size} + light decoder"),
            ):
                name = f"{kind}-{arch}-{size}"
                register_model(name, PretrainedConfig(name, arch, size, description, what, dict(defaults)))(factory)


def describe(name: str) -> dict[str, Any]:
    """JSON-ready description of a registered model (for `hfm models info`)."""
    return asdict(model_info(name).pretrained)


_register_core_models()
