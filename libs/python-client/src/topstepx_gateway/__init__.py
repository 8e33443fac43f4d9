"""Typed Python client of the TopStepX gateway engine's gRPC front door.

    from topstepx_gateway import GatewayClient, GatewayError

    with GatewayClient(strategy_name="my_strategy") as gw:
        result = gw.place_order("MNQ", "BUY", 1)
"""

from .client import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_TIMEOUT, GatewayClient, Subscription
from .errors import GatewayError, GatewayUnavailable, OrderRefused
from .models import (
    Bar,
    BarUpdate,
    Bars,
    BatchResult,
    CancelResult,
    ClosePositionResult,
    FlattenResult,
    ModifyResult,
    OrderResult,
    OrderState,
    OrderUpdate,
    Position,
    RiskEvent,
    RiskState,
)

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_TIMEOUT",
    "Bar",
    "BarUpdate",
    "Bars",
    "BatchResult",
    "CancelResult",
    "ClosePositionResult",
    "FlattenResult",
    "GatewayClient",
    "GatewayError",
    "GatewayUnavailable",
    "ModifyResult",
    "OrderRefused",
    "OrderResult",
    "OrderState",
    "OrderUpdate",
    "Position",
    "RiskEvent",
    "RiskState",
    "Subscription",
]
