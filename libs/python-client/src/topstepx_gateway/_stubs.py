"""Loads the generated gRPC modules (orders_pb2, market_data_pb2, risk_pb2 and their *_grpc twins).

They are generated, never committed: `npx nx run python-client:generate` writes them to
libs/python-client/out/. They import each other as top-level modules (protoc's layout), so their
folder must be on sys.path; it is found, in order, already importable, at $TOPSTEPX_GATEWAY_STUBS,
or at the project's out/ folder next to this package's source tree.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

STUBS_ENV = "TOPSTEPX_GATEWAY_STUBS"


def _stub_dirs() -> list[Path]:
    dirs: list[Path] = []
    env = os.environ.get(STUBS_ENV)
    if env:
        dirs.append(Path(env))
    dirs.append(Path(__file__).resolve().parents[2] / "out")
    return dirs


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        pass
    for folder in _stub_dirs():
        if (folder / f"{name}.py").is_file():
            if str(folder) not in sys.path:
                sys.path.insert(0, str(folder))
            return importlib.import_module(name)
    raise ImportError(
        f"generated gRPC module {name!r} not found: run `npx nx run python-client:generate` "
        f"(writes libs/python-client/out/) or point ${STUBS_ENV} at the folder holding the stubs"
    )


orders_pb2 = _import("orders_pb2")
orders_pb2_grpc = _import("orders_pb2_grpc")
market_data_pb2 = _import("market_data_pb2")
market_data_pb2_grpc = _import("market_data_pb2_grpc")
health_pb2 = _import("health_pb2")
health_pb2_grpc = _import("health_pb2_grpc")
risk_pb2 = _import("risk_pb2")
risk_pb2_grpc = _import("risk_pb2_grpc")
