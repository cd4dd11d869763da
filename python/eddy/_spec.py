"""Parameters written in eddy's model language, as its parser reads them back."""

from __future__ import annotations

import numpy as np


def is_name(text: str) -> bool:
    """A bare word to the parser: an ASCII letter or ``_``, then letters, digits, ``_-+.``."""
    return (
        bool(text)
        and text.isascii()
        and (text[0].isalpha() or text[0] == "_")
        and all(c.isalnum() or c in "_-+." for c in text)
    )


def quote(text: str) -> str:
    """``text`` as the parser reads it back: bare when it is a name, else in double
    quotes with the only escapes it knows (``\\\\`` and ``\\"``)."""
    if is_name(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def number(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"a number, not {value!r}")
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"a number, not {value!r}") from None
    if not np.isfinite(value):
        raise ValueError(f"a finite number, not {value!r}")
    return repr(value)


def choice(param: dict, value) -> str:
    """One of the names a parameter takes, or ``ValueError`` listing them (a name is
    never written raw: ``loss="log_loss, eta0=5"`` must not set ``eta0``)."""
    if not isinstance(value, str) or value not in param.get("choices", ()):
        raise ValueError(f"{param['name']} must be {param['allowed']}, not {value!r}")
    return value


def value_as_spec(param: dict, value) -> str:
    """A parameter's Python value as the model language writes it."""
    kind = param["kind"]
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{param['name']} must be True or False, not {value!r}")
        return "true" if value else "false"
    if kind in ("float", "int"):
        return number(value)
    if kind in ("model", "detector"):
        # An eddy estimator, or a spec in the model language (its own parser checks it).
        return value.spec() if hasattr(value, "spec") and callable(value.spec) else str(value)
    if kind in ("models", "columns") and isinstance(value, str) and value.startswith("["):
        return value  # already in the model language (as a loaded model's spec gives it)
    if kind == "models":
        return "[" + ", ".join(value_as_spec({**param, "kind": "model"}, v) for v in value) + "]"
    if kind == "columns":
        if isinstance(value, str):
            value = [value]
        return "[" + ", ".join(quote(str(v)) for v in value) + "]"
    if kind == "scalar":
        return quote(value) if isinstance(value, str) else number(value)
    if kind == "count_or_share":
        return choice(param, value) if isinstance(value, str) else number(value)
    return choice(param, value)


def same(a, b) -> bool:
    """True when a parameter's value is its default (so the spec leaves it out)."""
    if hasattr(a, "get_params") or hasattr(b, "get_params"):
        return False
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, (bool, np.bool_)) != isinstance(b, (bool, np.bool_)):
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False
