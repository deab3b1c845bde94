"""Runs under ml-metadata 1.17.1 (the reference venv): MLMD's own gRPC client reads a served store.

Usage: ``python mlmd_compose_client.py HOST PORT MODEL_ID``. Waits (up to 120 s) until the server has projected
artifact ``MODEL_ID``, then prints JSON: the artifact and execution type names, and the nodes of the model's
upstream lineage subgraph as ``[type name, id]`` pairs.
"""

import json
import sys
import time

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as m


def main(host, port, model_id):
    store = metadata_store.MetadataStore(m.MetadataStoreClientConfig(host=host, port=int(port)))
    deadline = time.monotonic() + 120
    while not store.get_artifacts_by_id([model_id]):
        if time.monotonic() > deadline:
            raise SystemExit(f"artifact {model_id} not projected by the server within 120 s")
        time.sleep(0.2)
    artifact_types = {t.id: t.name for t in store.get_artifact_types()}
    execution_types = {t.id: t.name for t in store.get_execution_types()}
    options = m.LineageSubgraphQueryOptions(
        starting_artifacts=m.LineageSubgraphQueryOptions.StartingNodes(filter_query=f"id = {model_id}"),
        max_num_hops=50, direction=m.LineageSubgraphQueryOptions.UPSTREAM,
    )
    graph = store.get_lineage_subgraph(options)
    nodes = [[artifact_types[a.type_id], a.id] for a in graph.artifacts]
    nodes += [[execution_types[e.type_id], e.id] for e in graph.executions]
    print(json.dumps({"artifact_types": sorted(artifact_types.values()),
                      "execution_types": sorted(execution_types.values()), "lineage": sorted(nodes)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
