#!/usr/bin/env python3
"""Print one of README.md's two set-up commands: `main` (the main job) or `test` (what CI runs).

They are the first two lines of README's first ```bash block; a trailing `# comment` is dropped.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_commands(readme: Path = README) -> dict[str, str]:
    match = re.search(r"```bash\n(.*?)```", readme.read_text(), re.S)
    if match is None:
        raise SystemExit(f"{readme}: no ```bash block with the set-up commands")
    lines = [line.split("#")[0].strip() for line in match.group(1).strip().splitlines()]
    if len(lines) < 2 or not all(lines[:2]):
        raise SystemExit(f"{readme}: the first bash block must start with the main-job and the test command")
    return {"main": lines[0], "test": lines[1]}


if __name__ == "__main__":
    print(readme_commands()[sys.argv[1] if len(sys.argv) > 1 else "test"])
