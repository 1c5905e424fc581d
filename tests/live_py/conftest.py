"""Starts the real `sextant` binary for the gRPC subscription tests, and compiles Sextant's
proto file with grpcio-tools into Python modules."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import sextant_server  # noqa: E402

REPO_ROOT = sextant_server.REPO_ROOT
TOKEN = "sxt_live_py_bootstrap_token"
PROTO_ROOT = REPO_ROOT / "crates" / "api" / "proto"


@pytest.fixture(scope="session")
def live_proto(tmp_path_factory):
    """`(live_pb2, live_pb2_grpc)`, generated from the repository's proto file."""
    from grpc_tools import protoc

    out = tmp_path_factory.mktemp("generated")
    status = protoc.main([
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        str(PROTO_ROOT / "sextant" / "live" / "v1" / "live.proto"),
    ])
    assert status == 0, "protoc could not compile live.proto"
    sys.path.insert(0, str(out))
    return (
        importlib.import_module("sextant.live.v1.live_pb2"),
        importlib.import_module("sextant.live.v1.live_pb2_grpc"),
    )


@pytest.fixture(scope="module")
def sextant(tmp_path_factory):
    """`(host:port, token)` of a running server; stopped after the module."""
    proc, address = sextant_server.start(tmp_path_factory.mktemp("sextant") / "data", TOKEN)
    yield address, TOKEN
    sextant_server.stop(proc)
