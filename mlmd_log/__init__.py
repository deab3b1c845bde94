"""mlmd-log: an event-sourced ML Metadata store.

MLMD's data model and API over an append-only log (Kafka, or the ``ops`` table
of an embedded DuckDB file), projected into versioned DuckDB tables.

Public surface: :func:`connect`, :class:`MetadataStore`, :class:`ListOptions`,
:class:`OrderByField`, :mod:`mlmd_log.errors`, :mod:`mlmd_log.proto`. Names are
resolved lazily so that importing a low layer (errors, settings) never pulls in
the whole store.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

__version__ = "0.1.0"

# In a source checkout the subpackages live in top-level folders (producer/, projector/, query/, schemas/),
# mapped by pyproject.toml when installed. When this folder is imported straight from the checkout (the
# checkout on sys.path, as with `python -m` there), let the import system find them beside it too.
_checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isfile(os.path.join(_checkout, "projector", "engine.py")) and _checkout not in __path__:
    __path__.append(_checkout)

_LAZY = {
    "connect": "mlmd_log.store",
    "MetadataStore": "mlmd_log.store",
    "ListOptions": "mlmd_log.query.options",
    "OrderByField": "mlmd_log.query.options",
}

__all__ = ["ListOptions", "MetadataStore", "OrderByField", "__version__", "connect", "errors"]


def __getattr__(name: str) -> Any:
    if name == "errors":
        return importlib.import_module("mlmd_log.errors")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mlmd_log' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
