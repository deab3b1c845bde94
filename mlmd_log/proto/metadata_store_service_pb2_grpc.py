"""Drop-in for ``ml_metadata.proto.metadata_store_service_pb2_grpc``: the gRPC stub, servicer and ``add_MetadataStoreServiceServicer_to_server``.

Re-exports every public name of the generated :mod:`mlmd_log.schemas.ml_metadata.metadata_store_service_pb2_grpc`, so code
written against ml-metadata runs unchanged with ``from mlmd_log.proto import metadata_store_service_pb2_grpc``.
"""

from mlmd_log.schemas.ml_metadata.metadata_store_service_pb2_grpc import *  # noqa: F403
