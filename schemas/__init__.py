"""Schemas: the wire format. MLMD-compatible model messages (proto package ``ml_metadata``) and our op envelope
(proto package ``mlmd_log.v1``). The bottom floor: imports nothing else from the project."""
