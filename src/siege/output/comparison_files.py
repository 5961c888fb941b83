"""Writing a comparison to a file: its long-form table as Parquet, or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from siege.analysis.comparison_table import comparison_table
from siege.errors import CompareError
from siege.files import atomic_write_table, atomic_write_text
from siege.jsonsafe import json_safe

if TYPE_CHECKING:
    from siege.analysis.compare import Comparison


def write_comparison(comparison: Comparison, path: str | Path) -> Path:
    """Write the statistics, whole or not at all: Parquet (long form) for ``.parquet``, JSON
    for ``.json``."""
    p = Path(path)
    if not p.parent.is_dir():
        raise CompareError(f"path {p}: folder {p.parent} does not exist", parameter="path")
    if p.suffix == ".parquet":
        atomic_write_table(p, comparison_table(comparison))
    elif p.suffix == ".json":
        atomic_write_text(p, json.dumps(json_safe(comparison.to_dict()), indent=2) + "\n")
    else:
        raise CompareError(f"path {p}: unknown format; allowed suffixes: .parquet, .json",
                           parameter="path")
    return p
