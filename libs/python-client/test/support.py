"""Shared helpers of the tests: paths, and turning UNIMPLEMENTED into a clear failure that names the rpc."""

from __future__ import annotations

import contextlib
import sys
import unittest
from pathlib import Path
from typing import Iterator

import grpc

PROJECT = Path(__file__).resolve().parents[1]
OUT = PROJECT / "out"
SRC = PROJECT / "src"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

for p in (str(OUT), str(SRC)):
    if p not in sys.path:
        sys.path.insert(0, p)

from topstepx_gateway import GatewayError  # noqa: E402


@contextlib.contextmanager
def server_side(case: unittest.TestCase, rpc: str) -> Iterator[None]:
    """Fails the test with a message naming the rpc when the engine does not implement it yet."""
    try:
        yield
    except GatewayError as err:
        if err.code == grpc.StatusCode.UNIMPLEMENTED:
            case.fail(f"SERVER SIDE MISSING: {rpc} is UNIMPLEMENTED on the engine ({err.details})")
        raise
