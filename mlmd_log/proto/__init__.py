"""MLMD-compatible import path: ``mlmd_log.proto.metadata_store_pb2`` and ``metadata_store_service_pb2``.

Code written for ``ml_metadata.proto`` runs unchanged against these modules; they re-export the generated
messages from :mod:`mlmd_log.schemas.ml_metadata`.
"""
