"""A small in-process gRPC server implementing the generated servicers with canned answers, for the
client's unit tests (conversion, error mapping, timeouts) without an engine. Special inputs:
symbol REFUSE -> FAILED_PRECONDITION DAILY_LOSS_LIMIT, side HOLD -> INVALID_ARGUMENT field=side,
symbol SLOW -> answers only after the caller's deadline, symbol BROKER_DOWN -> the engine's own
UNAVAILABLE, symbol BROKER_NO -> success=false in the body."""

from __future__ import annotations

import threading
import time
from concurrent import futures
from typing import Any, Iterator

import grpc

import support  # noqa: F401  (puts out/ and src/ on sys.path)
import market_data_pb2
import market_data_pb2_grpc
import orders_pb2
import orders_pb2_grpc
import risk_pb2
import risk_pb2_grpc


def _abort(context: Any, code: grpc.StatusCode, details: str, **metadata: str) -> None:
    context.set_trailing_metadata(tuple((k.replace("_", "-"), v) for k, v in metadata.items()))
    context.abort(code, details)


class Orders(orders_pb2_grpc.OrderServiceServicer):
    def __init__(self) -> None:
        self.requests: list[Any] = []

    def _one(self, req: Any, context: Any, index: int) -> Any:
        self.requests.append(req)
        if req.symbol == "REFUSE":
            _abort(context, grpc.StatusCode.FAILED_PRECONDITION, "DAILY_LOSS_LIMIT: daily loss limit reached", reason_code="DAILY_LOSS_LIMIT")
        if req.side == "HOLD":
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "side: must be BUY or SELL", field="side")
        if req.symbol == "BROKER_DOWN":
            _abort(context, grpc.StatusCode.UNAVAILABLE, "broker not reachable: nothing was sent")
        if req.symbol == "SLOW":
            deadline = time.monotonic() + 5
            while context.is_active() and time.monotonic() < deadline:
                time.sleep(0.02)
        if req.symbol == "BROKER_NO" or req.quantity > 5:
            return orders_pb2.OrderResponse(
                success=False,
                order_id=f"ord-{index}",
                message="broker said no",
                reason_code="BROKER_REJECTED",
                order_status=orders_pb2.ORDER_STATUS_REJECTED,
            )
        return orders_pb2.OrderResponse(
            success=True,
            order_id=f"ord-{index}",
            status="WORKING",
            order_status=orders_pb2.ORDER_STATUS_WORKING,
            broker_order_id=1000 + index,
            custom_tag=f"TradingBot-v1.0-strategy-{req.strategy_name}-MARKET-{index}-0",
            contract_id="CON.F.US.MNQ.Z26",
            message=f"sl={req.HasField('stop_loss')} tp={req.HasField('take_profit')}",
            stop_loss_ticks=-40 if req.HasField("stop_loss") else 0,
        )

    def PlaceOrder(self, request: Any, context: Any) -> Any:
        return self._one(request, context, 1)

    def PlaceBatch(self, request: Any, context: Any) -> Any:
        results = [self._one(o, context, i + 1) for i, o in enumerate(request.orders)]
        ok = sum(1 for r in results if r.success)
        return orders_pb2.BatchOrderResponse(results=results, succeeded=ok, failed=len(results) - ok)

    def GetOrderStatus(self, request: Any, context: Any) -> Any:
        if request.order_id == "missing":
            _abort(context, grpc.StatusCode.NOT_FOUND, "order_id: unknown order missing", field="order_id")
        return orders_pb2.OrderStatusResponse(
            found=True,
            order_id=request.order_id,
            order_status=orders_pb2.ORDER_STATUS_FILLED,
            side="BUY",
            quantity=2,
            filled_quantity=2,
            average_fill_price=21000.25,
            symbol="MNQ",
        )

    def CancelOrder(self, request: Any, context: Any) -> Any:
        return orders_pb2.CancelOrderResponse(success=True, order_id=request.order_id, order_status=orders_pb2.ORDER_STATUS_CANCELLED)

    def FlattenAll(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        return orders_pb2.FlattenAllResponse(
            success=not request.halt,
            cancelled_orders=2,
            closed_positions=1,
            failed_contracts=["CON.F.US.ES.Z26"],
            duplicate=request.client_request_id == "seen",
        )

    def ClosePosition(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        if request.symbol == "SLOW":
            deadline = time.monotonic() + 5
            while context.is_active() and time.monotonic() < deadline:
                time.sleep(0.02)
        return orders_pb2.ClosePositionResponse(
            success=True,
            contract_id="CON.F.US.MNQ.Z26",
            closed_quantity=request.quantity,
            duplicate=request.client_request_id == "seen",
        )

    def StreamOrderUpdates(self, request: Any, context: Any) -> Iterator[Any]:
        for seq in range(1, 4):
            yield orders_pb2.OrderUpdate(
                order_id="ord-1",
                strategy_name=request.strategy_name or "any",
                order_status=orders_pb2.ORDER_STATUS_WORKING if seq < 3 else orders_pb2.ORDER_STATUS_FILLED,
                sequence=seq,
            )


class MarketData(market_data_pb2_grpc.MarketDataServiceServicer):
    def __init__(self) -> None:
        self.stream_ended = threading.Event()

    def GetBars(self, request: Any, context: Any) -> Any:
        if request.timeframe == "7x":
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "timeframe: unknown 7x", field="timeframe")
        bars = [market_data_pb2.Bar(contract_id="CON.F.US.MNQ.Z26", timeframe=request.timeframe, close=100.0 + i, closed=True) for i in range(2)]
        return market_data_pb2.GetBarsResponse(contract_id="CON.F.US.MNQ.Z26", timeframe=request.timeframe, bars=bars)

    def StreamBars(self, request: Any, context: Any) -> Iterator[Any]:
        try:
            for seq in range(1, 3):
                bar = market_data_pb2.Bar(
                    contract_id=request.symbols[0], timeframe=request.timeframes[0], close=21000.0 + seq, closed=True, volume=seq
                )
                if seq == 2:
                    bar.atr = 4.5
                    bar.ema = 20999.0
                yield market_data_pb2.BarUpdate(bar=bar, sequence=seq)
            deadline = time.monotonic() + 10
            while context.is_active() and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            self.stream_ended.set()


class Risk(risk_pb2_grpc.RiskServiceServicer):
    def GetRiskState(self, request: Any, context: Any) -> Any:
        state = risk_pb2.AccountRiskState(
            account_id=request.account_id or 7,
            trading_state=risk_pb2.TRADING_STATE_ACTIVE,
            balance=50000.0,
            daily_loss_limit=1000.0,
            positions=[risk_pb2.Position(contract_id="CON.F.US.MNQ.Z26", net_quantity=-2, average_price=21000.0, mark_price=20990.0)],
            trading_day="2026-11-24",
        )
        return risk_pb2.GetRiskStateResponse(state=state)


class FakeGateway:
    def __init__(self) -> None:
        self.orders = Orders()
        self.market = MarketData()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        orders_pb2_grpc.add_OrderServiceServicer_to_server(self.orders, self.server)
        market_data_pb2_grpc.add_MarketDataServiceServicer_to_server(self.market, self.server)
        risk_pb2_grpc.add_RiskServiceServicer_to_server(Risk(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def stop(self) -> None:
        self.server.stop(grace=None).wait(5)
