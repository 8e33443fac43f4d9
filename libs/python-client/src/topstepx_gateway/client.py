"""GatewayClient: the typed Python door to the engine's gRPC front door (OrderService, MarketDataService,
RiskService). Every unary call carries a deadline (the client's `timeout` unless the call passes its own);
streams bound the connection attempt by the same timeout and run until closed or their own deadline."""

from __future__ import annotations

import os
from typing import Any, Callable, Generic, Iterator, Optional, Sequence, TypeVar, Union

import grpc

from ._stubs import health_pb2, health_pb2_grpc, market_data_pb2, market_data_pb2_grpc, orders_pb2, orders_pb2_grpc, risk_pb2, risk_pb2_grpc
from .errors import GatewayError, GatewayUnavailable, OrderRefused
from .models import (
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
    RiskEvent,
    RiskState,
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 50051
DEFAULT_TIMEOUT = 5.0

T = TypeVar("T")


def _env_first(*names: str) -> Optional[str]:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _resolve_port(port: Optional[int]) -> int:
    if port is not None:
        value: Union[int, str] = port
        source = "port"
    else:
        raw = _env_first("GATEWAY_GRPC_PORT", "GRPC_PORT")
        if raw is None:
            return DEFAULT_PORT
        value = raw
        source = "GATEWAY_GRPC_PORT" if os.environ.get("GATEWAY_GRPC_PORT") else "GRPC_PORT"
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{source}: must be an integer port in 1..65535, got {value!r}") from None
    if not 1 <= number <= 65535:
        raise ValueError(f"{source}: must be an integer port in 1..65535, got {value!r}")
    return number


def _resolve_timeout(timeout: Optional[float]) -> float:
    if timeout is None:
        raw = _env_first("GATEWAY_TIMEOUT")
        timeout = float(raw) if raw is not None else DEFAULT_TIMEOUT
    if not timeout > 0:
        raise ValueError(f"timeout: must be > 0 seconds, got {timeout!r}")
    return float(timeout)


class Subscription(Generic[T], Iterator[T]):
    """A server stream as an iterator of typed items. close() (or leaving a `with` block) ends it
    quietly; any other end of the stream raises GatewayError from the iteration."""

    def __init__(self, call: Any, convert: Callable[[Any], T], method: str, on_error: Callable[[grpc.RpcError, str], GatewayError]) -> None:
        self._call = call
        self._convert = convert
        self._method = method
        self._on_error = on_error
        self._closed = False

    def __iter__(self) -> "Subscription[T]":
        return self

    def __next__(self) -> T:
        try:
            msg = next(self._call)
        except StopIteration:
            if self._closed:
                raise
            # The engine ends its streams with status OK when it shuts down: a quiet StopIteration would
            # end the strategy's loop as if the subscription were still complete.
            raise GatewayError(
                f"{self._method}: the stream was ended by the server (engine stopping?): subscribe again",
                code=self._call.code(),
                details="stream ended by the server",
                method=self._method,
            ) from None
        except grpc.RpcError as err:
            if self._closed and err.code() == grpc.StatusCode.CANCELLED:  # type: ignore[attr-defined]
                raise StopIteration from None
            raise self._on_error(err, self._method) from None
        return self._convert(msg)

    def close(self) -> None:
        self._closed = True
        self._call.cancel()

    def __enter__(self) -> "Subscription[T]":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class GatewayClient:
    """Client of the engine's gRPC front door.

    host/port default to $GATEWAY_GRPC_HOST / $GATEWAY_GRPC_PORT, then $GRPC_HOST / $GRPC_PORT, then
    127.0.0.1:50051; timeout (seconds, every call) to $GATEWAY_TIMEOUT, then 5.0. The channel connects
    lazily; an engine that cannot be reached within the timeout raises GatewayUnavailable.
    """

    def __init__(
        self,
        host: Optional[str] = None,
        port: Optional[int] = None,
        timeout: Optional[float] = None,
        *,
        strategy_name: Optional[str] = None,
        account_id: int = 0,
    ) -> None:
        self.host: str = host or _env_first("GATEWAY_GRPC_HOST", "GRPC_HOST") or DEFAULT_HOST
        self.port: int = _resolve_port(port)
        self.timeout: float = _resolve_timeout(timeout)
        self.strategy_name: Optional[str] = strategy_name
        self.account_id: int = account_id
        self.target: str = f"{self.host}:{self.port}"
        self._channel: grpc.Channel = grpc.insecure_channel(self.target)
        # Set once a call has reached the engine; cleared when the connection is lost. A plain flag (no
        # connectivity subscription, whose polling thread outlives close()); races only cost one probe.
        self._connected = False
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._orders = orders_pb2_grpc.OrderServiceStub(self._channel)
        self._market = market_data_pb2_grpc.MarketDataServiceStub(self._channel)
        self._risk = risk_pb2_grpc.RiskServiceStub(self._channel)

    # -- connection -----------------------------------------------------------------------------

    def connect(self, timeout: Optional[float] = None) -> None:
        """Waits until the engine answers (a gRPC health check); GatewayUnavailable after `timeout`
        (default: the client's). Called by every method, so calling it yourself is optional."""
        if self._connected:
            return
        limit = self.timeout if timeout is None else timeout
        try:
            self._health.Check(health_pb2.HealthCheckRequest(service=""), timeout=limit, wait_for_ready=True)
        except grpc.RpcError as err:
            code = err.code()  # type: ignore[attr-defined]
            if code in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE):
                raise GatewayUnavailable(
                    f"gateway {self.target} not reachable within {limit:g} s "
                    "(is the engine running? `npm start`; host/port from GATEWAY_GRPC_HOST/GATEWAY_GRPC_PORT)",
                    code=grpc.StatusCode.UNAVAILABLE,
                    details=f"connect: {code.name}",
                ) from None
            # Any other answer (e.g. UNIMPLEMENTED from a server without health) proves the connection.
        self._connected = True

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "GatewayClient":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _error(self, err: grpc.RpcError, method: str) -> GatewayError:
        base = GatewayError.from_rpc_error(err, method)
        if base.code != grpc.StatusCode.UNAVAILABLE:
            return base
        # UNAVAILABLE is either the engine's own answer (the broker is unreachable) or a lost connection
        # to the engine: a short probe tells them apart.
        self._connected = False
        try:
            self.connect(min(1.0, self.timeout))
        except GatewayUnavailable:
            return GatewayUnavailable(
                f"{method}: gateway {self.target} not reachable: {base.details}",
                code=base.code,
                details=base.details,
                method=method,
            )
        return base

    def _unary(self, fn: Callable[..., Any], request: Any, method: str, timeout: Optional[float]) -> Any:
        limit = self.timeout if timeout is None else timeout
        self.connect(limit)
        try:
            return fn(request, timeout=limit)
        except grpc.RpcError as err:
            raise self._error(err, method) from None

    def _place(
        self,
        fn: Callable[..., Any],
        request: Any,
        method: str,
        timeout: Optional[float],
        retry_hint: str = "do not place it again blindly (retry with the same client_order_id, or watch stream_order_updates)",
    ) -> Any:
        """_unary for calls that send orders (places, closes, flattens). The engine refuses to send once the
        deadline has passed, but what it already sent keeps going: a deadline that fires on this side therefore
        leaves the outcome unknown, and is reported as the engine reports it (UNKNOWN), never as
        DEADLINE_EXCEEDED, which orders.proto documents as "nothing was sent"."""
        try:
            return self._unary(fn, request, method, timeout)
        except GatewayError as err:
            if err.code != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise
            raise GatewayError(
                f"{method}: UNKNOWN: no answer within the deadline, outcome unknown: the order may have been sent; {retry_hint}",
                code=grpc.StatusCode.UNKNOWN,
                details=err.details,
                reason_code=err.reason_code,
                field=err.field,
                order_id=err.order_id,
                method=method,
            ) from None

    def _stream(self, fn: Callable[..., Any], request: Any, convert: Callable[[Any], T], method: str, timeout: Optional[float]) -> Subscription[T]:
        self.connect()
        return Subscription(fn(request, timeout=timeout), convert, method, self._error)

    # -- orders ---------------------------------------------------------------------------------

    def _order_request(
        self,
        symbol: str,
        side: str,
        quantity: int,
        *,
        price: float = 0.0,
        order_type: str = "",
        strategy_name: Optional[str] = None,
        stop_loss: Optional[float] = None,
        take_profit: Optional[float] = None,
        stop_price: Optional[float] = None,
        trail_price: Optional[float] = None,
        client_order_id: str = "",
        account_id: Optional[int] = None,
        reduce_only: bool = False,
    ) -> Any:
        strategy = strategy_name if strategy_name is not None else self.strategy_name
        if not strategy:
            raise ValueError("strategy_name: required (pass it here or to GatewayClient(strategy_name=...))")
        optional = {
            "stop_loss": stop_loss,
            "take_profit": take_profit,
            "stop_price": stop_price,
            "trail_price": trail_price,
        }
        return orders_pb2.OrderRequest(
            symbol=symbol,
            side=side,
            quantity=quantity,
            price=price,
            order_type=order_type,
            strategy_name=strategy,
            account_id=self.account_id if account_id is None else account_id,
            client_order_id=client_order_id,
            reduce_only=reduce_only,
            **{k: v for k, v in optional.items() if v is not None},
        )

    def place_order(
        self,
        symbol: str,
        side: str,
        quantity: int,
        *,
        price: float = 0.0,
        order_type: str = "",
        strategy_name: Optional[str] = None,
        stop_loss: Optional[float] = None,
        take_profit: Optional[float] = None,
        stop_price: Optional[float] = None,
        trail_price: Optional[float] = None,
        client_order_id: str = "",
        account_id: Optional[int] = None,
        reduce_only: bool = False,
        timeout: Optional[float] = None,
    ) -> OrderResult:
        """Places one order (MARKET when order_type is empty). stop_loss/take_profit are price levels.
        Raises GatewayError (reason_code set for risk denials and broker rejections) or OrderRefused."""
        request = self._order_request(
            symbol,
            side,
            quantity,
            price=price,
            order_type=order_type,
            strategy_name=strategy_name,
            stop_loss=stop_loss,
            take_profit=take_profit,
            stop_price=stop_price,
            trail_price=trail_price,
            client_order_id=client_order_id,
            account_id=account_id,
            reduce_only=reduce_only,
        )
        result = OrderResult.from_proto(self._place(self._orders.PlaceOrder, request, "PlaceOrder", timeout))
        if not result.success:
            reason = result.reason_code or None
            raise OrderRefused(
                f"PlaceOrder: refused {reason or result.status}: {result.message}",
                result=result,
                reason_code=reason,
                details=result.message,
                method="PlaceOrder",
            )
        return result

    def place_batch(
        self,
        orders: Sequence[dict[str, Any]],
        *,
        all_or_none: bool = False,
        max_concurrency: int = 0,
        timeout: Optional[float] = None,
    ) -> BatchResult:
        """Places several orders; each dict holds place_order's arguments (symbol, side, quantity, ...).
        A refused order is a result with success = False and reason_code, not an exception."""
        requests = []
        for i, o in enumerate(orders):
            args = dict(o)
            try:
                symbol, side, quantity = args.pop("symbol"), args.pop("side"), args.pop("quantity")
            except KeyError as missing:
                raise ValueError(f"orders[{i}].{missing.args[0]}: required") from None
            requests.append(self._order_request(symbol, side, quantity, **args))
        request = orders_pb2.BatchOrderRequest(orders=requests, all_or_none=all_or_none, max_concurrency=max_concurrency)
        return BatchResult.from_proto(self._place(self._orders.PlaceBatch, request, "PlaceBatch", timeout))

    def order_status(self, order_id: str, *, timeout: Optional[float] = None) -> OrderState:
        """The order's current state by our order id or the broker's id in decimal; NOT_FOUND raises."""
        request = orders_pb2.OrderStatusRequest(order_id=str(order_id))
        return OrderState.from_proto(self._unary(self._orders.GetOrderStatus, request, "GetOrderStatus", timeout))

    def cancel_order(self, order_id: str, *, timeout: Optional[float] = None) -> CancelResult:
        """Cancels a working order; an order already final gives success = False with its status.
        Retrying after a lost answer is safe: a cancelled order answers success = False (reason_code
        BROKER_REJECTED while the cancel's own event is still on its way)."""
        request = orders_pb2.CancelOrderRequest(order_id=str(order_id))
        return CancelResult.from_proto(self._unary(self._orders.CancelOrder, request, "CancelOrder", timeout))

    def modify_order(
        self,
        order_id: str,
        *,
        quantity: Optional[int] = None,
        price: Optional[float] = None,
        stop_price: Optional[float] = None,
        trail_price: Optional[float] = None,
        timeout: Optional[float] = None,
    ) -> ModifyResult:
        """Changes size or prices of a working order; None leaves a field unchanged.

        ``quantity`` may lower the size, not raise it above the size the order was placed with (a modify is
        not risk-gated): more size is a new order, else ``GatewayError`` INVALID_ARGUMENT with ``field="quantity"``.
        Every value is absolute (``quantity`` is the new total size), so retrying after a lost answer sets the
        same values again.
        """
        changes = {"quantity": quantity, "price": price, "stop_price": stop_price, "trail_price": trail_price}
        request = orders_pb2.ModifyOrderRequest(order_id=str(order_id), **{k: v for k, v in changes.items() if v is not None})
        return ModifyResult.from_proto(self._unary(self._orders.ModifyOrder, request, "ModifyOrder", timeout))

    def close_position(
        self,
        symbol: str,
        *,
        quantity: int = 0,
        strategy_name: Optional[str] = None,
        client_request_id: str = "",
        timeout: Optional[float] = None,
    ) -> ClosePositionResult:
        """Closes the position of one contract (0 = all of it; a full close also cancels the contract's
        working orders, a partial one keeps them).

        Retry safety: a close whose answer is lost (GatewayError UNKNOWN after the timeout, a dropped
        connection) may have gone through, and a second close would close again: a partial close twice
        reduces the position by twice as much. Pass a ``client_request_id`` (at most 64 printable
        characters, unique per close) and retry with the same one: the engine returns the first close's
        answer (``duplicate=True``), waiting for it while it is still in flight, and sends nothing.
        The same id with another symbol or quantity raises ALREADY_EXISTS. The engine journals these ids
        for a day, so a retry after an engine restart still returns the first close's answer (or, for a
        close the restart cut short, UNKNOWN_OUTCOME: read the position with ``risk_state()`` first).
        """
        request = orders_pb2.ClosePositionRequest(
            symbol=symbol,
            account_id=self.account_id,
            quantity=quantity,
            strategy_name=strategy_name or self.strategy_name or "",
            client_request_id=client_request_id,
        )
        hint = "retry with the same client_request_id, which closes at most once" if client_request_id else "read the position before closing again"
        return ClosePositionResult.from_proto(self._place(self._orders.ClosePosition, request, "ClosePosition", timeout, hint))

    def flatten_all(self, *, halt: bool = False, client_request_id: str = "", timeout: Optional[float] = None) -> FlattenResult:
        """Cancels every working order and closes every position; halt=True also stops new entries.

        Retry safety: with the same ``client_request_id`` a retry returns the first flatten's answer
        (``duplicate=True``) and does nothing, unless that flatten failed (``success=False``): then the
        retry flattens again; without one a retry flattens again, which also closes
        positions opened in between (a new id does the same, on purpose).
        """
        request = orders_pb2.FlattenAllRequest(account_id=self.account_id, halt=halt, client_request_id=client_request_id)
        hint = "retry with the same client_request_id, which flattens at most once" if client_request_id else "a retry flattens again"
        return FlattenResult.from_proto(self._place(self._orders.FlattenAll, request, "FlattenAll", timeout, hint))

    def stream_order_updates(
        self, strategy: Optional[str] = None, *, account_id: int = 0, timeout: Optional[float] = None
    ) -> Subscription[OrderUpdate]:
        """Every status change of matching orders (strategy None = every order). `timeout` bounds the whole stream."""
        request = orders_pb2.StreamOrderUpdatesRequest(strategy_name=strategy or "", account_id=account_id)
        return self._stream(self._orders.StreamOrderUpdates, request, OrderUpdate.from_proto, "StreamOrderUpdates", timeout)

    # -- market data ----------------------------------------------------------------------------

    def get_bars(
        self, symbol: str, timeframe: str, *, limit: int = 0, include_open: bool = False, timeout: Optional[float] = None
    ) -> Bars:
        """The last `limit` bars (0 = all kept), oldest first."""
        request = market_data_pb2.GetBarsRequest(symbol=symbol, timeframe=timeframe, limit=limit, include_open=include_open)
        return Bars.from_proto(self._unary(self._market.GetBars, request, "GetBars", timeout))

    def stream_bars(
        self,
        symbol: Union[str, Sequence[str]],
        timeframe: Union[str, Sequence[str]],
        *,
        include_open: bool = False,
        timeout: Optional[float] = None,
    ) -> Subscription[BarUpdate]:
        """Bar updates of the given symbols and timeframes (closed bars only unless include_open)."""
        symbols = [symbol] if isinstance(symbol, str) else list(symbol)
        timeframes = [timeframe] if isinstance(timeframe, str) else list(timeframe)
        request = market_data_pb2.StreamBarsRequest(symbols=symbols, timeframes=timeframes, include_open=include_open)
        return self._stream(self._market.StreamBars, request, BarUpdate.from_proto, "StreamBars", timeout)

    # -- risk -----------------------------------------------------------------------------------

    def risk_state(self, *, account_id: Optional[int] = None, timeout: Optional[float] = None) -> RiskState:
        request = risk_pb2.GetRiskStateRequest(account_id=self.account_id if account_id is None else account_id)
        return RiskState.from_proto(self._unary(self._risk.GetRiskState, request, "GetRiskState", timeout).state)

    def stream_risk_events(self, *, account_id: int = 0, timeout: Optional[float] = None) -> Subscription[RiskEvent]:
        request = risk_pb2.StreamRiskEventsRequest(account_id=account_id)
        return self._stream(self._risk.StreamRiskEvents, request, RiskEvent.from_proto, "StreamRiskEvents", timeout)

    def halt(self, reason: str = "", *, flatten: bool = False, timeout: Optional[float] = None) -> RiskState:
        """Stops new entries (reducing orders still pass); flatten=True also cancels and closes everything."""
        request = risk_pb2.HaltRequest(account_id=self.account_id, reason=reason, flatten=flatten)
        return RiskState.from_proto(self._unary(self._risk.Halt, request, "Halt", timeout).state)

    def resume(self, reason: str = "", *, timeout: Optional[float] = None) -> RiskState:
        """Lifts an operator halt; FAILED_PRECONDITION while a loss limit still holds."""
        request = risk_pb2.ResumeRequest(account_id=self.account_id, reason=reason)
        return RiskState.from_proto(self._unary(self._risk.Resume, request, "Resume", timeout).state)
