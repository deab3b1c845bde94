"""Drop-in for ``ml_metadata.proto.metadata_store_service_pb2``: the request/response messages of ``MetadataStoreService``.

Re-exports every public name of the generated :mod:`mlmd_log.schemas.ml_metadata.metadata_store_service_pb2`, so code
written against ml-metadata runs unchanged with ``from mlmd_log.proto import metadata_store_service_pb2``.
"""

from mlmd_log.schemas.ml_metadata.metadata_store_service_pb2 import *  # noqa: F403
