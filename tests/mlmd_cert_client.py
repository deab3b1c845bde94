"""Run by the ml-metadata 1.17.1 reference interpreter: MLMD's own client, authenticated by a client
certificate, puts one artifact type through our gRPC server. Args: port, CA, client key, client cert (PEM)."""

import sys
from pathlib import Path

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

port, ca, key, cert = sys.argv[1:5]
config = metadata_store_pb2.MetadataStoreClientConfig(host="localhost", port=int(port))
# MLMD's client hands ssl_config.server_cert to gRPC as the client's certificate chain.
config.ssl_config.custom_ca = Path(ca).read_text()
config.ssl_config.client_key = Path(key).read_text()
config.ssl_config.server_cert = Path(cert).read_text()
store = metadata_store.MetadataStore(config)
print(store.put_artifact_type(metadata_store_pb2.ArtifactType(name="FromMlmdClient")))
