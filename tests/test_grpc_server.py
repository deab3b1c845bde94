"""The gRPC server (mlmd_log.grpc_server) over the embedded log and over Kafka, called with our generated stub.

Checks what an MLMD client relies on: every rpc answers, writes are visible to the next read
(read-your-writes), rejections carry MLMD's status code and message prefix, listings page like MLMD's,
and the server's own guarantees: bearer token, TLS, message size limit, no leaked internals, many clients.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest

from mlmd_log.grpc_server import MetadataStoreServicer, TlsConfig, serve
from mlmd_log.proto import metadata_store_pb2 as mlmd
from mlmd_log.proto import metadata_store_service_pb2 as svc
from mlmd_log.proto import metadata_store_service_pb2_grpc as svc_grpc

REPO = Path(__file__).resolve().parents[1]


class Served:
    """A store, the server over it and a stub on a fresh channel."""

    def __init__(self, store: Any, **options: Any) -> None:
        self.store = store
        self.server = serve(store, **options)
        self.channel = grpc.insecure_channel(self.server.address)
        self.stub = svc_grpc.MetadataStoreServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()
        self.server.stop()


@pytest.fixture
def serve_store(store_factory: Callable[..., Any]) -> Iterator[Callable[..., Served]]:
    opened: list[Served] = []

    def make(**options: Any) -> Served:
        served = Served(store_factory(), **options)
        opened.append(served)
        return served

    yield make
    for served in opened:
        served.close()


@pytest.fixture
def served(serve_store: Callable[..., Served]) -> Served:
    return serve_store()


def _code(call: Callable[[], Any]) -> tuple[Any, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code(), info.value.details()


def _types(stub: Any) -> tuple[int, int, int]:
    at = mlmd.ArtifactType(name="DataSet")
    at.properties["day"] = mlmd.INT
    a = stub.PutArtifactType(svc.PutArtifactTypeRequest(artifact_type=at)).type_id
    e = stub.PutExecutionType(svc.PutExecutionTypeRequest(execution_type=mlmd.ExecutionType(name="Trainer"))).type_id
    c = stub.PutContextType(svc.PutContextTypeRequest(context_type=mlmd.ContextType(name="Run"))).type_id
    return a, e, c


def test_every_rpc_of_the_service_is_implemented() -> None:
    methods = svc.DESCRIPTOR.services_by_name["MetadataStoreService"].methods
    missing = [
        m.name for m in methods
        if getattr(MetadataStoreServicer, m.name) is getattr(svc_grpc.MetadataStoreServiceServicer, m.name)
    ]
    assert len(methods) == 52
    assert missing == []


def test_writes_then_reads_round_trip(served: Served) -> None:
    stub = served.stub
    a_type, e_type, c_type = _types(stub)
    assert stub.GetArtifactType(svc.GetArtifactTypeRequest(type_name="DataSet")).artifact_type.id == a_type
    assert [t.name for t in stub.GetExecutionTypes(svc.GetExecutionTypesRequest()).execution_types] == ["Trainer"]
    assert stub.GetContextTypesByID(svc.GetContextTypesByIDRequest(type_ids=[c_type])).context_types[0].name == "Run"

    artifact = mlmd.Artifact(type_id=a_type, uri="/data/1", name="d1", external_id="ext-d1")
    artifact.properties["day"].int_value = 1
    [a_id] = stub.PutArtifacts(svc.PutArtifactsRequest(artifacts=[artifact])).artifact_ids
    [ctx_id] = stub.PutContexts(svc.PutContextsRequest(contexts=[mlmd.Context(type_id=c_type, name="run-1")])).context_ids
    done = stub.PutExecution(svc.PutExecutionRequest(
        execution=mlmd.Execution(type_id=e_type, last_known_state=mlmd.Execution.COMPLETE),
        artifact_event_pairs=[svc.PutExecutionRequest.ArtifactAndEvent(
            artifact=mlmd.Artifact(type_id=a_type, uri="/model/1"), event=mlmd.Event(type=mlmd.Event.OUTPUT))],
        contexts=[mlmd.Context(id=ctx_id, type_id=c_type, name="run-1")],
    ))
    stub.PutEvents(svc.PutEventsRequest(events=[
        mlmd.Event(artifact_id=a_id, execution_id=done.execution_id, type=mlmd.Event.INPUT)]))
    stub.PutAttributionsAndAssociations(svc.PutAttributionsAndAssociationsRequest(
        attributions=[mlmd.Attribution(artifact_id=a_id, context_id=ctx_id)]))

    # Read-your-writes: every write above is visible to the very next read, on any backend.
    got = stub.GetArtifactsByID(svc.GetArtifactsByIDRequest(artifact_ids=[a_id], populate_artifact_types=True))
    assert got.artifacts[0].properties["day"].int_value == 1 and got.artifacts[0].type == "DataSet"
    assert [t.id for t in got.artifact_types] == [a_type]
    assert stub.GetArtifactByTypeAndName(
        svc.GetArtifactByTypeAndNameRequest(type_name="DataSet", artifact_name="d1")).artifact.id == a_id
    assert not stub.GetArtifactByTypeAndName(
        svc.GetArtifactByTypeAndNameRequest(type_name="DataSet", artifact_name="nope")).HasField("artifact")
    assert [a.id for a in stub.GetArtifactsByURI(svc.GetArtifactsByURIRequest(uris=["/data/1", "/data/1"])).artifacts] == [a_id]
    assert [a.id for a in stub.GetArtifactsByExternalIds(
        svc.GetArtifactsByExternalIdsRequest(external_ids=["ext-d1"])).artifacts] == [a_id]
    assert len(stub.GetArtifactsByType(svc.GetArtifactsByTypeRequest(type_name="DataSet")).artifacts) == 2
    assert stub.GetArtifactsByType(svc.GetArtifactsByTypeRequest(type_name="Unknown")).artifacts == []
    in_run = stub.GetArtifactsByContext(svc.GetArtifactsByContextRequest(context_id=ctx_id)).artifacts
    assert sorted(a.id for a in in_run) == sorted([a_id, done.artifact_ids[0]])
    assert [e.id for e in stub.GetExecutionsByContext(
        svc.GetExecutionsByContextRequest(context_id=ctx_id)).executions] == [done.execution_id]
    events = stub.GetEventsByExecutionIDs(svc.GetEventsByExecutionIDsRequest(execution_ids=[done.execution_id])).events
    assert sorted((e.artifact_id, e.type) for e in events) == sorted(
        [(a_id, mlmd.Event.INPUT), (done.artifact_ids[0], mlmd.Event.OUTPUT)])
    assert [c.id for c in stub.GetContextsByArtifact(svc.GetContextsByArtifactRequest(artifact_id=a_id)).contexts] == [ctx_id]
    assert stub.GetExecutionsByID(
        svc.GetExecutionsByIDRequest(execution_ids=[done.execution_id])).executions[0].last_known_state == mlmd.Execution.COMPLETE


def test_types_and_parent_contexts(served: Served) -> None:
    stub = served.stub
    response = stub.PutTypes(svc.PutTypesRequest(
        artifact_types=[mlmd.ArtifactType(name="Model")], context_types=[mlmd.ContextType(name="Pipeline")]))
    [pipeline_type] = response.context_type_ids
    assert len(response.artifact_type_ids) == 1 and not response.execution_type_ids
    ids = stub.PutContexts(svc.PutContextsRequest(contexts=[
        mlmd.Context(type_id=pipeline_type, name=n) for n in ("parent", "child-a", "child-b")])).context_ids
    stub.PutParentContexts(svc.PutParentContextsRequest(parent_contexts=[
        mlmd.ParentContext(child_id=ids[1], parent_id=ids[0]), mlmd.ParentContext(child_id=ids[2], parent_id=ids[0])]))
    children = stub.GetChildrenContextsByContext(svc.GetChildrenContextsByContextRequest(context_id=ids[0])).contexts
    assert sorted(c.id for c in children) == sorted(ids[1:])
    by_children = stub.GetParentContextsByContexts(svc.GetParentContextsByContextsRequest(context_ids=ids))
    assert sorted(by_children.contexts) == sorted(ids[1:])
    assert [c.id for c in by_children.contexts[ids[1]].parent_contexts] == [ids[0]]
    by_parent = stub.GetChildrenContextsByContexts(svc.GetChildrenContextsByContextsRequest(context_ids=[ids[0]]))
    assert sorted(c.id for c in by_parent.contexts[ids[0]].children_contexts) == sorted(ids[1:])


def _pages(call: Callable[[Any], Any], request: Any, field: str, size: int) -> list[list[int]]:
    request.options.max_result_size = size
    pages = []
    while True:
        response = call(request)
        pages.append([n.id for n in getattr(response, field)])
        if not response.HasField("next_page_token"):
            return pages
        request.options.next_page_token = response.next_page_token


def test_listings_page_like_mlmd(served: Served) -> None:
    stub = served.stub
    a_type, _, c_type = _types(stub)
    ids = list(stub.PutArtifacts(svc.PutArtifactsRequest(
        artifacts=[mlmd.Artifact(type_id=a_type, uri=f"/d/{i}") for i in range(45)])).artifact_ids)
    [ctx] = stub.PutContexts(svc.PutContextsRequest(contexts=[mlmd.Context(type_id=c_type, name="c")])).context_ids
    stub.PutAttributionsAndAssociations(svc.PutAttributionsAndAssociationsRequest(
        attributions=[mlmd.Attribution(artifact_id=i, context_id=ctx) for i in ids[:25]]))

    # No options: everything at once. Options without a size: MLMD's default page of 20.
    assert [a.id for a in stub.GetArtifacts(svc.GetArtifactsRequest()).artifacts] == ids
    first = stub.GetArtifacts(svc.GetArtifactsRequest(options=mlmd.ListOperationOptions()))
    assert len(first.artifacts) == 20 and first.next_page_token

    pages = _pages(stub.GetArtifacts, svc.GetArtifactsRequest(), "artifacts", 20)
    assert [len(p) for p in pages] == [20, 20, 5] and [i for p in pages for i in p] == ids
    by_type = _pages(stub.GetArtifactsByType, svc.GetArtifactsByTypeRequest(type_name="DataSet"), "artifacts", 30)
    assert [len(p) for p in by_type] == [30, 15] and [i for p in by_type for i in p] == ids
    by_context = _pages(stub.GetArtifactsByContext, svc.GetArtifactsByContextRequest(context_id=ctx), "artifacts", 10)
    assert [len(p) for p in by_context] == [10, 10, 5] and [i for p in by_context for i in p] == ids[:25]
    # filter_query narrows every listing, paged like the rest; a type that does not exist has one empty page.
    filtered = svc.GetArtifactsByContextRequest(context_id=ctx)
    filtered.options.filter_query = f"id >= {ids[10]} AND uri != '/d/12'"
    pages = _pages(stub.GetArtifactsByContext, filtered, "artifacts", 4)
    assert [len(p) for p in pages] == [4, 4, 4, 2] and [i for p in pages for i in p] == ids[10:12] + ids[13:25]
    unknown = _pages(stub.GetArtifactsByType, svc.GetArtifactsByTypeRequest(type_name="Unknown"), "artifacts", 5)
    assert unknown == [[]]

    # Descending, and a page asked for over MLMD's cap of 100 is served 100 at a time.
    desc = svc.GetArtifactsRequest()
    desc.options.order_by_field.field = mlmd.ListOperationOptions.OrderByField.ID
    desc.options.order_by_field.is_asc = False
    assert [i for p in _pages(stub.GetArtifacts, desc, "artifacts", 7) for i in p] == ids[::-1]
    more = list(stub.PutArtifacts(svc.PutArtifactsRequest(
        artifacts=[mlmd.Artifact(type_id=a_type) for _ in range(80)])).artifact_ids)
    assert [len(p) for p in _pages(stub.GetArtifacts, svc.GetArtifactsRequest(), "artifacts", 500)] == [100, 25]
    assert len(more) == 80


def test_pages_are_pinned_to_the_first_page(served: Served) -> None:
    stub = served.stub
    a_type, _, c_type = _types(stub)
    [ctx] = stub.PutContexts(svc.PutContextsRequest(contexts=[mlmd.Context(type_id=c_type, name="c")])).context_ids
    ids = list(stub.PutArtifacts(svc.PutArtifactsRequest(
        artifacts=[mlmd.Artifact(type_id=a_type) for _ in range(6)])).artifact_ids)
    stub.PutAttributionsAndAssociations(svc.PutAttributionsAndAssociationsRequest(
        attributions=[mlmd.Attribution(artifact_id=i, context_id=ctx) for i in ids]))
    for request in (svc.GetArtifactsByTypeRequest(type_name="DataSet"), svc.GetArtifactsByContextRequest(context_id=ctx)):
        call = stub.GetArtifactsByType if isinstance(request, svc.GetArtifactsByTypeRequest) else stub.GetArtifactsByContext
        request.options.max_result_size = 4
        page1 = call(request)
        # Written between the pages: not part of this listing, which reads as of its first page.
        [late] = stub.PutArtifacts(svc.PutArtifactsRequest(artifacts=[mlmd.Artifact(type_id=a_type)])).artifact_ids
        stub.PutAttributionsAndAssociations(svc.PutAttributionsAndAssociationsRequest(
            attributions=[mlmd.Attribution(artifact_id=late, context_id=ctx)]))
        request.options.next_page_token = page1.next_page_token
        page2 = call(request)
        assert [a.id for a in page1.artifacts] + [a.id for a in page2.artifacts] == ids
        assert not page2.HasField("next_page_token")
        ids = [*ids, late]


def test_rejections_carry_mlmd_codes_and_messages(served: Served) -> None:
    stub = served.stub
    a_type, _, c_type = _types(stub)
    code, message = _code(lambda: stub.GetArtifactType(svc.GetArtifactTypeRequest(type_name="Nope")))
    assert code == grpc.StatusCode.NOT_FOUND and message.startswith("No type found for query, name: `Nope`")
    code, message = _code(lambda: stub.PutArtifacts(svc.PutArtifactsRequest(artifacts=[mlmd.Artifact(uri="x")])))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and message == "Type id is missing."
    code, message = _code(lambda: stub.PutArtifacts(svc.PutArtifactsRequest(artifacts=[mlmd.Artifact(type_id=12345)])))
    assert code == grpc.StatusCode.NOT_FOUND and message.startswith("Cannot find type for type_id: 12345")
    stub.PutContexts(svc.PutContextsRequest(contexts=[mlmd.Context(type_id=c_type, name="same")]))
    code, message = _code(
        lambda: stub.PutContexts(svc.PutContextsRequest(contexts=[mlmd.Context(type_id=c_type, name="same")])))
    assert code == grpc.StatusCode.ALREADY_EXISTS and message.startswith("Given node already exists")
    bad = mlmd.Artifact(type_id=a_type)
    bad.properties["day"].string_value = "monday"
    code, message = _code(lambda: stub.PutArtifacts(svc.PutArtifactsRequest(artifacts=[bad])))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "Found unmatched property type: day" in message
    code, message = _code(lambda: stub.GetArtifacts(
        svc.GetArtifactsRequest(options=mlmd.ListOperationOptions(max_result_size=0))))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and message.startswith("max_result_size field value is required")
    code, message = _code(lambda: stub.GetArtifacts(
        svc.GetArtifactsRequest(options=mlmd.ListOperationOptions(next_page_token="garbage"))))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and message.startswith("Invalid next_page_token")
    code, message = _code(lambda: stub.GetContextsByArtifact(svc.GetContextsByArtifactRequest(artifact_id=1)))
    assert code == grpc.StatusCode.NOT_FOUND and message.startswith("No contexts found for artifact_id")
    code, message = _code(lambda: stub.GetLineageGraph(svc.GetLineageGraphRequest()))
    assert code == grpc.StatusCode.UNIMPLEMENTED and "GetLineageSubgraph" in message
    code, message = _code(lambda: stub.GetLineageSubgraph(svc.GetLineageSubgraphRequest()))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and message == "Missing arguments for listing starting nodes."
    # A rejected batch changed nothing.
    assert [c.name for c in stub.GetContexts(svc.GetContextsRequest()).contexts] == ["same"]


def test_lineage_subgraph_with_read_mask(served: Served) -> None:
    stub = served.stub
    a_type, e_type, c_type = _types(stub)
    done = stub.PutLineageSubgraph(svc.PutLineageSubgraphRequest(
        executions=[mlmd.Execution(type_id=e_type)],
        artifacts=[mlmd.Artifact(type_id=a_type, uri="in"), mlmd.Artifact(type_id=a_type, uri="out")],
        contexts=[mlmd.Context(type_id=c_type, name="run")],
        event_edges=[
            svc.PutLineageSubgraphRequest.EventEdge(execution_index=0, artifact_index=0, event=mlmd.Event(type=mlmd.Event.INPUT)),
            svc.PutLineageSubgraphRequest.EventEdge(execution_index=0, artifact_index=1, event=mlmd.Event(type=mlmd.Event.OUTPUT)),
        ],
    ))
    request = svc.GetLineageSubgraphRequest()
    request.lineage_subgraph_query_options.starting_artifacts.filter_query = f"id = {done.artifact_ids[0]}"
    request.lineage_subgraph_query_options.max_num_hops = 2
    request.read_mask.paths.extend(["artifacts", "events", "associations", "attributions"])
    graph = stub.GetLineageSubgraph(request).lineage_subgraph
    assert sorted(a.id for a in graph.artifacts) == sorted(done.artifact_ids)
    assert len(graph.events) == 2 and not graph.executions and not graph.contexts
    assert sorted((a.artifact_id, a.context_id) for a in graph.attributions) == sorted(
        (i, done.context_ids[0]) for i in done.artifact_ids)
    assert [(a.execution_id, a.context_id) for a in graph.associations] == [(done.execution_ids[0], done.context_ids[0])]


def test_reuse_context_answers_the_existing_id(served: Served) -> None:
    stub = served.stub
    _, e_type, c_type = _types(stub)
    first = stub.PutExecution(svc.PutExecutionRequest(
        execution=mlmd.Execution(type_id=e_type), contexts=[mlmd.Context(type_id=c_type, name="shared")]))
    again = svc.PutExecutionRequest(
        execution=mlmd.Execution(type_id=e_type), contexts=[mlmd.Context(type_id=c_type, name="shared")])
    assert _code(lambda: stub.PutExecution(again))[0] == grpc.StatusCode.ALREADY_EXISTS
    again.options.reuse_context_if_already_exist = True
    second = stub.PutExecution(again)
    assert list(second.context_ids) == list(first.context_ids)
    assert len(stub.GetExecutionsByContext(svc.GetExecutionsByContextRequest(context_id=first.context_ids[0])).executions) == 2


def test_bearer_token(serve_store: Callable[..., Served]) -> None:
    served = serve_store(token="s3cret-token")
    request = svc.GetArtifactTypesRequest()
    code, message = _code(lambda: served.stub.GetArtifactTypes(request))
    assert code == grpc.StatusCode.UNAUTHENTICATED and "bearer token" in message
    code, _ = _code(lambda: served.stub.GetArtifactTypes(request, metadata=[("authorization", "Bearer wrong")]))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert served.stub.GetArtifactTypes(request, metadata=[("authorization", "Bearer s3cret-token")]).artifact_types == []


def test_message_size_limit(serve_store: Callable[..., Served]) -> None:
    served = serve_store(max_message_bytes=64 * 1024)
    stub = served.stub
    a_type, _, _ = _types(stub)
    big = [mlmd.Artifact(type_id=a_type, uri="u" * 1000) for _ in range(100)]  # ~100 KB request
    code, message = _code(lambda: stub.PutArtifacts(svc.PutArtifactsRequest(artifacts=big)))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in message
    for _ in range(2):  # two requests under the limit, one answer over it
        stub.PutArtifacts(svc.PutArtifactsRequest(artifacts=big[:50]))
    code, message = _code(lambda: stub.GetArtifacts(svc.GetArtifactsRequest()))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "maximum message size" in message
    assert len(stub.GetArtifacts(svc.GetArtifactsRequest(options=mlmd.ListOperationOptions(max_result_size=20))).artifacts) == 20


def test_unexpected_errors_are_internal_without_details(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals /etc/passwd")

    from mlmd_log.query.reader import Reader

    monkeypatch.setattr(Reader, "get_artifact_types", boom)
    code, message = _code(lambda: served.stub.GetArtifactTypes(svc.GetArtifactTypesRequest()))
    assert code == grpc.StatusCode.INTERNAL and "secret" not in message and "incident" in message


def test_concurrent_clients(serve_store: Callable[..., Served]) -> None:
    served = serve_store(max_workers=8)
    a_type, _, c_type = _types(served.stub)
    errors: list[BaseException] = []
    made: dict[int, list[int]] = {}

    def client(n: int) -> None:
        try:
            with grpc.insecure_channel(served.server.address) as channel:
                stub = svc_grpc.MetadataStoreServiceStub(channel)
                ids: list[int] = []
                for i in range(5):
                    ids += stub.PutArtifacts(svc.PutArtifactsRequest(
                        artifacts=[mlmd.Artifact(type_id=a_type, uri=f"/c{n}/{i}/{j}") for j in range(3)])).artifact_ids
                    got = stub.GetArtifactsByID(svc.GetArtifactsByIDRequest(artifact_ids=ids)).artifacts
                    assert [a.id for a in got] == sorted(ids)  # read-your-writes under load
                    page = stub.GetArtifacts(svc.GetArtifactsRequest(options=mlmd.ListOperationOptions(max_result_size=7)))
                    assert min(7, len(ids)) <= len(page.artifacts) <= 7
                # A duplicate name is rejected for this client alone.
                ctx = svc.PutContextsRequest(contexts=[mlmd.Context(type_id=c_type, name="contended")])
                try:
                    stub.PutContexts(ctx)
                except grpc.RpcError as err:
                    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
                made[n] = ids
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    every = [i for ids in made.values() for i in ids]
    assert len(every) == len(set(every)) == 8 * 15
    listed = [a.id for a in served.stub.GetArtifactsByType(svc.GetArtifactsByTypeRequest(type_name="DataSet")).artifacts]
    assert sorted(listed) == sorted(every)
    assert len(served.stub.GetContexts(svc.GetContextsRequest()).contexts) == 1


def test_concurrent_reuse_answers_the_existing_id(serve_store: Callable[..., Served]) -> None:
    served = serve_store(max_workers=8)
    _, e_type, c_type = _types(served.stub)
    first = served.stub.PutExecution(svc.PutExecutionRequest(
        execution=mlmd.Execution(type_id=e_type), contexts=[mlmd.Context(type_id=c_type, name="shared")]))
    answers: list[int] = []
    errors: list[BaseException] = []

    def client() -> None:
        try:
            with grpc.insecure_channel(served.server.address) as channel:
                stub = svc_grpc.MetadataStoreServiceStub(channel)
                for _ in range(15):
                    request = svc.PutExecutionRequest(
                        execution=mlmd.Execution(type_id=e_type), contexts=[mlmd.Context(type_id=c_type, name="shared")])
                    request.options.reuse_context_if_already_exist = True
                    answers.extend(stub.PutExecution(request).context_ids)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert answers == list(first.context_ids) * 8 * 15


def test_a_taken_port_is_an_error(served: Served) -> None:
    from mlmd_log.errors import UnavailableError

    with pytest.raises(UnavailableError, match="cannot listen"):
        serve(served.store, port=served.server.port)
    # The running server is untouched.
    assert served.stub.GetArtifactTypes(svc.GetArtifactTypesRequest()).artifact_types == []


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("TLS test needs the openssl command to make a certificate")
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return key, cert


def test_tls(store_factory: Callable[..., Any], tmp_path: Path) -> None:
    key, cert = _self_signed(tmp_path)
    server = serve(store_factory(), tls=TlsConfig.from_files(key, cert))
    try:
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        with grpc.secure_channel(f"localhost:{server.port}", credentials) as channel:
            stub = svc_grpc.MetadataStoreServiceStub(channel)
            assert stub.GetArtifactTypes(svc.GetArtifactTypesRequest(), timeout=10).artifact_types == []
        with grpc.insecure_channel(server.address) as plain:  # a plaintext client cannot talk to a TLS server
            code, _ = _code(lambda: svc_grpc.MetadataStoreServiceStub(plain).GetArtifactTypes(
                svc.GetArtifactTypesRequest(), timeout=5))
            assert code == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop()


@contextmanager
def _server_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``python -m mlmd_log.grpc_server`` on an embedded log in ``tmp_path``, once serving: (process, port).

    Killed on the way out if it is still running.
    """
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [sys.executable, "-m", "mlmd_log.grpc_server", "--log", f"duckdb:///{tmp_path / 'm.duckdb'}",
         "--port", "0", "--port-file", str(port_file)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "MLMD_LOG_TEAM": "t"},
    )
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists():
            assert process.poll() is None, process.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        yield process, int(port_file.read_text())
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _threads_taking(pid: int, signum: int) -> list[int]:
    """The process's threads other than its main one that do not block ``signum`` (Linux /proc)."""
    taking = []
    for task in sorted(Path(f"/proc/{pid}/task").iterdir()):
        status = (task / "status").read_text()
        blocked = int(next(line for line in status.splitlines() if line.startswith("SigBlk:")).split()[1], 16)
        if int(task.name) != pid and not blocked & (1 << (signum - 1)):
            taking.append(int(task.name))
    return taking


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="threads are listed from Linux's /proc")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_server_process_stops_when_another_thread_takes_the_signal(tmp_path: Path, signum: int) -> None:
    """Linux may hand a signal sent to the process to any of its threads; the server must stop all the same.

    An untimed ``Event.wait()`` in the main thread would be interrupted only when the main thread takes the
    signal, and the server would hang. ``tgkill`` hands the signal to a chosen thread, as the kernel sometimes does.
    """
    import ctypes

    with _server_process(tmp_path) as (process, _port):
        time.sleep(0.5)  # let the main thread settle into its wait
        threads = _threads_taking(process.pid, signum)
        assert threads, "the serving process has no thread besides its main one to take the signal"
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.tgkill(process.pid, threads[-1], int(signum)) == 0, os.strerror(ctypes.get_errno())
        try:
            code = process.wait(20)
        except subprocess.TimeoutExpired:
            pytest.fail("the server did not stop within 20 s of a signal taken by one of its other threads")
        assert code == 0, process.communicate()[1].decode()[-2000:]
        assert b"stopping (signal" in process.communicate()[1]


def test_server_process_serves_until_sigterm(tmp_path: Path) -> None:
    with _server_process(tmp_path) as (process, port):
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = svc_grpc.MetadataStoreServiceStub(channel)
            type_id = stub.PutArtifactType(svc.PutArtifactTypeRequest(artifact_type=mlmd.ArtifactType(name="T"))).type_id
            assert stub.GetArtifactTypesByID(svc.GetArtifactTypesByIDRequest(type_ids=[type_id])).artifact_types[0].name == "T"
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
