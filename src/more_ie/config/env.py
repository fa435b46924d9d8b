"""Environment variables in configured paths: ``path: ${MORE_IE_SHARED_DATA}/twitter2017/train.txt``.

Only path-like keys are expanded (a URL or a label is never touched), and a variable that is not
set is an error naming the key and the variable, rather than a path that silently keeps a ``$``.
"""

from __future__ import annotations

import os
import re
from typing import Any

PATH_KEYS = frozenset({"path", "index_path", "images_dir", "out_dir", "results_dir"})
_VARIABLE = re.compile(r"\$(\w+|\{(\w+)\})")


def expand_path_variables(config: Any, error: type[Exception], where: str, dotted: str = "") -> None:
    """Expand ``$VAR`` / ``${VAR}`` in place in every path-like string of ``config``."""
    items = (
        config.items() if isinstance(config, dict) else enumerate(config) if isinstance(config, list) else ()
    )
    for key, value in list(items):
        name = f"{dotted}.{key}" if dotted else str(key)
        if isinstance(value, str) and key in PATH_KEYS and "$" in value:
            unset = [
                m.group(2) or m.group(1)
                for m in _VARIABLE.finditer(value)
                if (m.group(2) or m.group(1)) not in os.environ
            ]
            if unset:
                raise error(f"{where}: {name}: environment variable {unset[0]} is not set (in {value!r})")
            config[key] = os.path.expandvars(value)
        elif isinstance(value, (dict, list)):
            expand_path_variables(value, error, where, name)
