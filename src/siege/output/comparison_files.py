"""Writing a comparison to a file: its long-form table as Parquet, or JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.parquet as pq

from siege.errors import CompareError

if TYPE_CHECKING:
    from siege.analysis.compare import Comparison


def write_comparison(comparison: Comparison, path: str | Path) -> Path:
    """Write the statistics: Parquet (long form) for ``.parquet``, JSON for ``.json``."""
    p = Path(path)
    if not p.parent.is_dir():
        raise CompareError(f"--out {p}: folder {p.parent} does not exist")
    if p.suffix == ".parquet":
        pq.write_table(comparison.to_table(), p)
    elif p.suffix == ".json":
        p.write_text(json.dumps(json_safe(comparison.to_dict()), indent=2) + "\n",
                     encoding="utf-8")
    else:
        raise CompareError(f"--out {p}: unknown format; allowed suffixes: .parquet, .json")
    return p


def json_safe(obj: Any) -> Any:
    """JSON has no inf/NaN: NaN becomes null, ±inf the strings "inf"/"-inf"."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    return obj
