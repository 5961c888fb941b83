"""Plain data for JSON, which has no NaN or infinity: the one sanitiser every writer of JSON
uses (scenario hash, results metadata, ``--json`` output, comparison files)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def json_safe(obj: Any) -> Any:
    """``obj`` with NaN as None (null), ±inf as the strings ``"inf"``/``"-inf"``, tuples and
    arrays as lists and numpy scalars as Python numbers; dictionaries keep their key order.
    -0.0 is written as 0.0: the values are equal, so a scenario written with -0.0 hashes alike."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, float) and obj == 0.0:
        return 0.0
    return obj
