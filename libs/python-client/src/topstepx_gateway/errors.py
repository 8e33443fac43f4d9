"""Exceptions of the client. Every failed call raises a GatewayError carrying the gRPC status code and,
for risk denials and broker rejections, the engine's stable reason code (trailing metadata `reason-code`)."""

from __future__ import annotations

from typing import Mapping, Optional

import grpc

REASON_CODE_KEY = "reason-code"
FIELD_KEY = "field"
ORDER_ID_KEY = "order-id"


class GatewayError(Exception):
    """A call the engine answered with an error status, or an order it refused.

    code         the gRPC status (None for an order refused in the response body, see OrderRefused)
    reason_code  DAILY_LOSS_LIMIT, HALTED, BROKER_REJECTED, ... (None when the error has none)
    field        the request field at fault for INVALID_ARGUMENT, e.g. "quantity"
    order_id     for UNKNOWN outcomes: the order id to poll with order_status() (None when no answer came)
    details      the engine's message
    """

    def __init__(
        self,
        message: str,
        *,
        code: Optional[grpc.StatusCode],
        details: str = "",
        reason_code: Optional[str] = None,
        field: Optional[str] = None,
        order_id: Optional[str] = None,
        method: str = "",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.details = details
        self.reason_code = reason_code
        self.field = field
        self.order_id = order_id
        self.method = method

    @classmethod
    def from_rpc_error(cls, err: grpc.RpcError, method: str) -> "GatewayError":
        code: Optional[grpc.StatusCode] = err.code() if hasattr(err, "code") else None  # type: ignore[attr-defined]
        details: str = (err.details() if hasattr(err, "details") else "") or ""  # type: ignore[attr-defined]
        md = _metadata(err)
        reason = md.get(REASON_CODE_KEY) or None
        field = md.get(FIELD_KEY) or None
        order_id = md.get(ORDER_ID_KEY) or None
        name = code.name if code is not None else "UNKNOWN"
        label = f"{name} {reason}" if reason else name
        return cls(
            f"{method}: {label}: {details}" if details else f"{method}: {label}",
            code=code,
            details=details,
            reason_code=reason,
            field=field,
            order_id=order_id,
            method=method,
        )


class GatewayUnavailable(GatewayError):
    """The engine's gRPC port could not be reached within the timeout (engine not running, wrong
    host/port, or the connection dropped). For place_order a dropped connection leaves the outcome
    unknown: retry with the same client_order_id, which the engine deduplicates."""


class OrderRefused(GatewayError):
    """The engine answered an order call with success = false (e.g. a broker rejection reported in the
    response body). `result` is the full answer; reason_code says why."""

    def __init__(self, message: str, *, result: object, reason_code: Optional[str], details: str, method: str) -> None:
        super().__init__(message, code=None, details=details, reason_code=reason_code, method=method)
        self.result = result


def _metadata(err: grpc.RpcError) -> Mapping[str, str]:
    trailing = err.trailing_metadata() if hasattr(err, "trailing_metadata") else None  # type: ignore[attr-defined]
    out: dict[str, str] = {}
    for item in trailing or ():
        key, value = item[0], item[1]
        out[str(key).lower()] = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return out
