"""The gRPC server stamps who wrote each op: a named token's name or the client certificate's subject."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import grpc
import pytest
from pydantic import SecretStr

from mlmd_log.grpc.server import TlsConfig, serve
from mlmd_log.schemas.ml_metadata import metadata_store_pb2 as mlmd
from mlmd_log.schemas.ml_metadata import metadata_store_service_pb2 as svc
from mlmd_log.schemas.ml_metadata import metadata_store_service_pb2_grpc as svc_grpc
from mlmd_log.settings import ServerToken


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _pki(tmp: Path) -> dict[str, Path]:
    """A CA, a server certificate for localhost and a client certificate for CN=trainer,O=ml-team."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make certificates")
    p = {n: tmp / f"{n}.pem" for n in ("ca_key", "ca", "server_key", "server", "client_key", "client")}
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
             "-keyout", str(p["ca_key"]), "-out", str(p["ca"]))
    for name, subject, ext in (("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
                               ("client", "/O=ml-team/CN=trainer", "extendedKeyUsage=clientAuth")):
        csr = tmp / f"{name}.csr"
        extfile = tmp / f"{name}.ext"
        extfile.write_text(ext + "\n")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", str(p[f"{name}_key"]),
                 "-out", str(csr))
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(p["ca"]), "-CAkey", str(p["ca_key"]),
                 "-CAcreateserial", "-days", "1", "-extfile", str(extfile), "-out", str(p[name]))
    return p


def _put_type(stub: Any, name: str, **kwargs: Any) -> None:
    stub.PutArtifactType(svc.PutArtifactTypeRequest(artifact_type=mlmd.ArtifactType(name=name)), timeout=10, **kwargs)


def test_a_client_certificate_subject_is_stamped_on_the_ops_it_writes(store_factory: Any, tmp_path: Path) -> None:
    pki = _pki(tmp_path)
    store = store_factory()
    server = serve(store, tls=TlsConfig.from_files(pki["server_key"], pki["server"], pki["ca"]))
    try:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=pki["ca"].read_bytes(), private_key=pki["client_key"].read_bytes(),
            certificate_chain=pki["client"].read_bytes(),
        )
        with grpc.secure_channel(f"localhost:{server.port}", credentials) as channel:
            _put_type(svc_grpc.MetadataStoreServiceStub(channel), "Examples")
    finally:
        server.stop()
    (change,) = [c for c in store.get_changes() if c.payload == "put_artifact_type"]
    assert change.user is not None and "CN=trainer" in change.user and "O=ml-team" in change.user


def test_named_tokens_name_the_writer_and_a_read_token_cannot_write(store_factory: Any) -> None:
    tokens = {"ci-pipeline": ServerToken(secret=SecretStr("ci-secret"), scope="write"),
              "notebook": ServerToken(secret=SecretStr("nb-secret"), scope="read")}
    store = store_factory()
    server = serve(store, tokens=tokens)
    try:
        with grpc.insecure_channel(server.address) as channel:
            stub = svc_grpc.MetadataStoreServiceStub(channel)
            _put_type(stub, "Model", metadata=[("authorization", "Bearer ci-secret")])
            with pytest.raises(grpc.RpcError) as denied:
                _put_type(stub, "Other", metadata=[("authorization", "Bearer nb-secret")])
            assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
            with pytest.raises(grpc.RpcError) as missing:
                _put_type(stub, "Other")
            assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
            read = stub.GetArtifactTypes(svc.GetArtifactTypesRequest(), timeout=10,
                                         metadata=[("authorization", "Bearer nb-secret")])
            assert [t.name for t in read.artifact_types] == ["Model"]
    finally:
        server.stop()
    assert [c.user for c in store.get_changes() if c.payload == "put_artifact_type"] == ["ci-pipeline"]


@pytest.mark.mlmd
def test_mlmds_own_client_authenticates_with_a_client_certificate(store_factory: Any, tmp_path: Path) -> None:
    from mlmd_ref import MLMD_VERSION, ReferenceUnavailableError, run_reference

    pki = _pki(tmp_path)
    store = store_factory()
    server = serve(store, tls=TlsConfig.from_files(pki["server_key"], pki["server"], pki["ca"]))
    try:
        done = run_reference(Path(__file__).with_name("mlmd_cert_client.py"), str(server.port), str(pki["ca"]),
                             str(pki["client_key"]), str(pki["client"]), timeout=300)
    except ReferenceUnavailableError as err:
        pytest.skip(f"ml-metadata {MLMD_VERSION} reference venv unavailable: {err}")
    finally:
        server.stop()
    assert int(done.stdout.decode().strip()) > 0
    (change,) = [c for c in store.get_changes() if c.payload == "put_artifact_type"]
    assert change.user is not None and "CN=trainer" in change.user
