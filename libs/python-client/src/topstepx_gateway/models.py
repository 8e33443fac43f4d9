"""Typed results of the client: frozen dataclasses converted from the generated protobuf messages, so a
strategy gets attribute completion and `None` for unset optional fields (never a silent 0.0)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ._stubs import orders_pb2, risk_pb2


def _opt(msg: Any, name: str) -> Optional[float]:
    return getattr(msg, name) if msg.HasField(name) else None


def _order_status(msg: Any) -> str:
    if msg.status:
        return str(msg.status)
    return str(orders_pb2.OrderStatus.Name(msg.order_status)).removeprefix("ORDER_STATUS_")


@dataclass(frozen=True)
class OrderResult:
    success: bool
    order_id: str
    status: str
    message: str
    reason_code: str
    broker_order_id: int
    custom_tag: str
    client_order_id: str
    contract_id: str
    filled_quantity: int
    average_fill_price: Optional[float]
    duplicate: bool
    stop_loss_ticks: int
    take_profit_ticks: int

    @classmethod
    def from_proto(cls, m: Any) -> "OrderResult":
        return cls(
            success=m.success,
            order_id=m.order_id,
            status=_order_status(m),
            message=m.message,
            reason_code=m.reason_code,
            broker_order_id=m.broker_order_id,
            custom_tag=m.custom_tag,
            client_order_id=m.client_order_id,
            contract_id=m.contract_id,
            filled_quantity=m.filled_quantity,
            average_fill_price=_opt(m, "average_fill_price"),
            duplicate=m.duplicate,
            stop_loss_ticks=m.stop_loss_ticks,
            take_profit_ticks=m.take_profit_ticks,
        )


@dataclass(frozen=True)
class BatchResult:
    results: list[OrderResult]
    succeeded: int
    failed: int

    @classmethod
    def from_proto(cls, m: Any) -> "BatchResult":
        return cls([OrderResult.from_proto(r) for r in m.results], m.succeeded, m.failed)


@dataclass(frozen=True)
class OrderState:
    found: bool
    order_id: str
    status: str
    broker_order_id: int
    custom_tag: str
    client_order_id: str
    symbol: str
    contract_id: str
    side: str
    quantity: int
    filled_quantity: int
    average_fill_price: Optional[float]
    price: Optional[float]
    order_type: str
    strategy_name: str
    reason_code: str
    message: str
    created_at_ms: int
    updated_at_ms: int

    @classmethod
    def from_proto(cls, m: Any) -> "OrderState":
        return cls(
            found=m.found,
            order_id=m.order_id,
            status=_order_status(m),
            broker_order_id=m.broker_order_id,
            custom_tag=m.custom_tag,
            client_order_id=m.client_order_id,
            symbol=m.symbol,
            contract_id=m.contract_id,
            side=m.side,
            quantity=m.quantity,
            filled_quantity=m.filled_quantity,
            average_fill_price=_opt(m, "average_fill_price"),
            price=_opt(m, "price"),
            order_type=m.order_type,
            strategy_name=m.strategy_name,
            reason_code=m.reason_code,
            message=m.message,
            created_at_ms=m.created_at_ms,
            updated_at_ms=m.updated_at_ms,
        )


@dataclass(frozen=True)
class CancelResult:
    """Answer of CancelOrder (and of ModifyOrder, whose response has the same fields)."""

    success: bool
    order_id: str
    status: str
    message: str
    reason_code: str

    @classmethod
    def from_proto(cls, m: Any) -> "CancelResult":
        status = str(orders_pb2.OrderStatus.Name(m.order_status)).removeprefix("ORDER_STATUS_")
        return cls(m.success, m.order_id, status, m.message, m.reason_code)


ModifyResult = CancelResult


@dataclass(frozen=True)
class ClosePositionResult:
    success: bool
    message: str
    contract_id: str
    closed_quantity: int
    cancelled_orders: int
    order_id: str
    reason_code: str
    # True when the engine replayed the answer of an earlier call with the same client_request_id.
    duplicate: bool = False

    @classmethod
    def from_proto(cls, m: Any) -> "ClosePositionResult":
        return cls(m.success, m.message, m.contract_id, m.closed_quantity, m.cancelled_orders, m.order_id, m.reason_code, m.duplicate)


@dataclass(frozen=True)
class FlattenResult:
    success: bool
    message: str
    cancelled_orders: int
    closed_positions: int
    failed_contracts: list[str] = field(default_factory=list)
    # True when the engine replayed the answer of an earlier call with the same client_request_id.
    duplicate: bool = False

    @classmethod
    def from_proto(cls, m: Any) -> "FlattenResult":
        return cls(m.success, m.message, m.cancelled_orders, m.closed_positions, list(m.failed_contracts), m.duplicate)


@dataclass(frozen=True)
class OrderUpdate:
    order_id: str
    status: str
    broker_order_id: int
    custom_tag: str
    client_order_id: str
    strategy_name: str
    symbol: str
    contract_id: str
    side: str
    quantity: int
    filled_quantity: int
    average_fill_price: Optional[float]
    reason_code: str
    message: str
    timestamp_ms: int
    sequence: int

    @classmethod
    def from_proto(cls, m: Any) -> "OrderUpdate":
        return cls(
            order_id=m.order_id,
            status=_order_status(m),
            broker_order_id=m.broker_order_id,
            custom_tag=m.custom_tag,
            client_order_id=m.client_order_id,
            strategy_name=m.strategy_name,
            symbol=m.symbol,
            contract_id=m.contract_id,
            side=m.side,
            quantity=m.quantity,
            filled_quantity=m.filled_quantity,
            average_fill_price=_opt(m, "average_fill_price"),
            reason_code=m.reason_code,
            message=m.message,
            timestamp_ms=m.timestamp_ms,
            sequence=m.sequence,
        )


@dataclass(frozen=True)
class Bar:
    contract_id: str
    timeframe: str
    start_time_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: int
    closed: bool
    trade_count: int
    atr: Optional[float]
    sma: Optional[float]
    ema: Optional[float]

    @classmethod
    def from_proto(cls, m: Any) -> "Bar":
        return cls(
            contract_id=m.contract_id,
            timeframe=m.timeframe,
            start_time_ms=m.start_time_ms,
            open=m.open,
            high=m.high,
            low=m.low,
            close=m.close,
            volume=m.volume,
            closed=m.closed,
            trade_count=m.trade_count,
            atr=_opt(m, "atr"),
            sma=_opt(m, "sma"),
            ema=_opt(m, "ema"),
        )


@dataclass(frozen=True)
class BarUpdate:
    bar: Bar
    sequence: int

    @classmethod
    def from_proto(cls, m: Any) -> "BarUpdate":
        return cls(Bar.from_proto(m.bar), m.sequence)


@dataclass(frozen=True)
class Bars:
    contract_id: str
    timeframe: str
    bars: list[Bar]
    stale: bool

    @classmethod
    def from_proto(cls, m: Any) -> "Bars":
        return cls(m.contract_id, m.timeframe, [Bar.from_proto(b) for b in m.bars], m.stale)


@dataclass(frozen=True)
class Position:
    contract_id: str
    net_quantity: int
    average_price: float
    unrealized_pnl: Optional[float]
    mark_price: Optional[float]

    @classmethod
    def from_proto(cls, m: Any) -> "Position":
        return cls(m.contract_id, m.net_quantity, m.average_price, _opt(m, "unrealized_pnl"), _opt(m, "mark_price"))


@dataclass(frozen=True)
class RiskState:
    account_id: int
    trading_state: str
    reason: str
    balance: float
    realized_pnl: float
    unrealized_pnl: float
    net_pnl: float
    mll_floor: float
    daily_loss_limit: float
    daily_loss_headroom: float
    mll_headroom: float
    positions: list[Position]
    updated_at_ms: int
    trading_day: str
    open_orders: int

    @classmethod
    def from_proto(cls, m: Any) -> "RiskState":
        return cls(
            account_id=m.account_id,
            trading_state=str(risk_pb2.TradingState.Name(m.trading_state)).removeprefix("TRADING_STATE_"),
            reason=m.reason,
            balance=m.balance,
            realized_pnl=m.realized_pnl,
            unrealized_pnl=m.unrealized_pnl,
            net_pnl=m.net_pnl,
            mll_floor=m.mll_floor,
            daily_loss_limit=m.daily_loss_limit,
            daily_loss_headroom=m.daily_loss_headroom,
            mll_headroom=m.mll_headroom,
            positions=[Position.from_proto(p) for p in m.positions],
            updated_at_ms=m.updated_at_ms,
            trading_day=m.trading_day,
            open_orders=m.open_orders,
        )


@dataclass(frozen=True)
class RiskEvent:
    kind: str
    reason: str
    message: str
    state: Optional[RiskState]
    timestamp_ms: int
    sequence: int

    @classmethod
    def from_proto(cls, m: Any) -> "RiskEvent":
        state = RiskState.from_proto(m.state) if m.HasField("state") else None
        return cls(m.kind, m.reason, m.message, state, m.timestamp_ms, m.sequence)
