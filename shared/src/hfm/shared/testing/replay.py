"""The kit's replay check: `hfm train OUT/run.yaml` trains the same weights, byte for byte, as the shortcut that
wrote it (issue 22: a shortcut is a run config, not a second way to train)."""

from __future__ import annotations

from pathlib import Path

from hfm.shared.hashing import sha256_file

WEIGHTS = Path("final") / "model.safetensors"


def check_replay(out: Path, replay: Path) -> list[str]:
    """Replay the shortcut output `out` (its run.yaml and run/) into `replay`; the problems, [] when the replayed
    final weights equal the shortcut's byte for byte."""
    from hfm.shared.cli.main import run as hfm

    try:
        hfm(["train", str(out / "run.yaml"), "--set", f"run.out_dir={replay}"])
    except SystemExit as done:
        if done.code not in (0, None):
            return [f"hfm train {out / 'run.yaml'} exited with {done.code}"]
    original, replayed = out / "run" / WEIGHTS, replay / WEIGHTS
    missing = [f"{path}: missing" for path in (original, replayed) if not path.is_file()]
    if missing:
        return missing
    if sha256_file(original) != sha256_file(replayed):
        return [f"{replayed} differs from {original}: the replay trained other weights"]
    return []
