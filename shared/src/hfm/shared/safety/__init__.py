"""Defences against hostile or unlucky inputs, shared by every curation path (see docs/data.md, threat model).

One key sanitiser with collision detection (`keys`), one path guard (`paths`), one resource budget with header
checks before decoding (`budget`, `headers`), one folder lock (`lock`), atomic dataset replacement (`staging`), and
an input lister that counts every file of a folder (`inputs`).
"""

from hfm.shared.safety.budget import ResourceBudget, current_budget, file_limits
from hfm.shared.safety.inputs import InputFile, list_inputs
from hfm.shared.safety.keys import KeyRegistry, safe_key
from hfm.shared.safety.lock import FolderLock
from hfm.shared.safety.paths import display_name, inside, safe_child

__all__ = [
    "FolderLock",
    "InputFile",
    "KeyRegistry",
    "ResourceBudget",
    "current_budget",
    "display_name",
    "file_limits",
    "inside",
    "list_inputs",
    "safe_child",
    "safe_key",
]
