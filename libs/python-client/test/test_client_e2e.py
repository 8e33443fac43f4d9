"""GatewayClient end to end against a real engine with its embedded simulator: orders (place, status,
cancel, batch, refusals with readable reason codes, order updates, flatten), bars and risk state.
An rpc the engine does not implement yet fails its test with `SERVER SIDE MISSING: <rpc>`."""

from __future__ import annotations

import json
import time
import unittest
import urllib.request
from typing import Any

import grpc

import support
from engine import EngineProcess
from topstepx_gateway import GatewayClient, GatewayError, OrderResult

engine: EngineProcess
# One mini lot at most (micros count as tenths): an ES order for 2 contracts is a MAX_POSITION denial.
ENGINE_ENV = {"RISK_MAX_POSITION": "1", "CONTRACTS": "MNQ,ES"}
# A LIMIT BUY on MNQ's 0.25 grid far below any simulated price: it stays WORKING until cancelled.
FAR_BID = 1000.0
READY_WAIT_S = 30.0
FINAL = {"FILLED", "CANCELLED", "REJECTED", "EXPIRED"}


def setUpModule() -> None:
    global engine
    engine = EngineProcess("client", ENGINE_ENV).start()


def tearDownModule() -> None:
    engine.stop()


def client(strategy: str = "py_e2e") -> GatewayClient:
    return GatewayClient(engine.host, engine.port, timeout=10.0, strategy_name=strategy)


def place_when_risk_ready(gw: GatewayClient, *args: Any, **kwargs: Any) -> OrderResult:
    """Places an order, retrying only while the engine's risk state is still loading (RISK_NOT_READY)."""
    deadline = time.monotonic() + READY_WAIT_S
    while True:
        try:
            return gw.place_order(*args, **kwargs)
        except GatewayError as err:
            if err.reason_code != "RISK_NOT_READY" or time.monotonic() > deadline:
                raise
        time.sleep(0.25)


def sim_faults(patch: dict[str, Any]) -> None:
    """Sets fault injection on the engine's embedded simulator (POST /admin/faults)."""
    req = urllib.request.Request(
        f"{engine.sim_url}/admin/faults", data=json.dumps(patch).encode(), headers={"content-type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=10) as res:
        res.read()


def sim_position(account_id: int, root: str) -> int:
    """The simulator's own signed position (long > 0) of one contract root (GET /admin/accounts)."""
    with urllib.request.urlopen(f"{engine.sim_url}/admin/accounts", timeout=10) as res:
        accounts = json.loads(res.read())["accounts"]
    account = next(a for a in accounts if a["id"] == account_id)
    total = 0
    for p in account["positions"]:
        if f".{root}." in p["contractId"]:
            total += -p["size"] if p["type"] == 2 else p["size"]
    return total


def wait_for(cond: Any, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


class OrdersE2E(unittest.TestCase):
    def setUp(self) -> None:
        self.gw = client()

    def tearDown(self) -> None:
        self.gw.close()

    def test_market_order_round_trip_and_updates(self) -> None:
        with support.server_side(self, "OrderService.StreamOrderUpdates"):
            updates = self.gw.stream_order_updates("py_e2e_market", timeout=30.0)
        try:
            with support.server_side(self, "OrderService.PlaceOrder"):
                placed = place_when_risk_ready(self.gw, "MNQ", "BUY", 1, strategy_name="py_e2e_market")
            self.assertTrue(placed.success)
            self.assertNotEqual(placed.order_id, "")
            self.assertTrue(placed.contract_id.startswith("CON.F.US.MNQ."), placed.contract_id)
            self.assertIn(placed.status, {"WORKING", "PARTIALLY_FILLED", "FILLED"})
            seen = []
            with support.server_side(self, "OrderService.StreamOrderUpdates"):
                for u in updates:
                    if u.order_id == placed.order_id:
                        seen.append(u)
                        if u.status == "FILLED":
                            break
            self.assertEqual(seen[-1].status, "FILLED")
            self.assertEqual(seen[-1].strategy_name, "py_e2e_market")
            self.assertEqual([u.sequence for u in seen], sorted(u.sequence for u in seen))
        finally:
            updates.close()
        with support.server_side(self, "OrderService.GetOrderStatus"):
            state = self.gw.order_status(placed.order_id)
        self.assertEqual((state.found, state.status, state.side, state.filled_quantity), (True, "FILLED", "BUY", 1))
        self.assertIsNotNone(state.average_fill_price)

    def test_limit_order_cancel(self) -> None:
        with support.server_side(self, "OrderService.PlaceOrder"):
            placed = place_when_risk_ready(self.gw, "MNQ", "BUY", 1, price=FAR_BID, order_type="LIMIT")
        self.assertEqual(placed.status, "WORKING")
        with support.server_side(self, "OrderService.CancelOrder"):
            cancelled = self.gw.cancel_order(placed.order_id)
        self.assertTrue(cancelled.success, cancelled.message)
        with support.server_side(self, "OrderService.GetOrderStatus"):
            deadline = time.monotonic() + 15
            state = self.gw.order_status(placed.order_id)
            while state.status != "CANCELLED" and time.monotonic() < deadline:
                time.sleep(0.1)
                state = self.gw.order_status(placed.order_id)
        self.assertEqual(state.status, "CANCELLED")
        with support.server_side(self, "OrderService.CancelOrder"):
            again = self.gw.cancel_order(placed.order_id)
        self.assertFalse(again.success)
        self.assertEqual(again.status, "CANCELLED")

    def test_batch_reports_each_order(self) -> None:
        place_when_risk_ready(self.gw, "MNQ", "BUY", 1, price=FAR_BID, order_type="LIMIT")
        with support.server_side(self, "OrderService.PlaceBatch"):
            batch = self.gw.place_batch(
                [
                    {"symbol": "MNQ", "side": "BUY", "quantity": 1, "price": FAR_BID, "order_type": "LIMIT"},
                    {"symbol": "MNQ", "side": "HOLD", "quantity": 1},
                ]
            )
        self.assertEqual([r.success for r in batch.results], [True, False])
        self.assertEqual((batch.succeeded, batch.failed), (1, 1))
        self.assertEqual(batch.results[1].reason_code, "INVALID_ARGUMENT")
        self.gw.cancel_order(batch.results[0].order_id)

    def test_risk_denial_raises_with_reason_code(self) -> None:
        with self.assertRaises(GatewayError) as caught:
            with support.server_side(self, "OrderService.PlaceOrder"):
                place_when_risk_ready(self.gw, "ES", "BUY", 2)
        err = caught.exception
        self.assertEqual(err.code, grpc.StatusCode.FAILED_PRECONDITION, str(err))
        self.assertEqual(err.reason_code, "MAX_POSITION")
        self.assertIn("MAX_POSITION", str(err))

    def test_bad_input_names_the_field(self) -> None:
        with self.assertRaises(GatewayError) as caught:
            with support.server_side(self, "OrderService.PlaceOrder"):
                self.gw.place_order("MNQ", "HOLD", 1)
        self.assertEqual(caught.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(caught.exception.field, "side")

    def test_unknown_order_is_not_found(self) -> None:
        with self.assertRaises(GatewayError) as caught:
            with support.server_side(self, "OrderService.GetOrderStatus"):
                self.gw.order_status("no-such-order")
        self.assertEqual(caught.exception.code, grpc.StatusCode.NOT_FOUND)

    def test_order_sent_after_the_client_deadline_is_an_unknown_outcome(self) -> None:
        # The broker takes 3 s to answer Order/place while the call's deadline is 1 s: the engine sends
        # the order and the client's own deadline fires. orders.proto says DEADLINE_EXCEEDED means
        # "nothing was sent", so that code would make a strategy place the order a second time.
        self.assertIsNotNone(engine.sim_url, engine.log_tail())
        place_when_risk_ready(self.gw, "MNQ", "BUY", 1, price=FAR_BID, order_type="LIMIT", strategy_name="py_e2e_warm")
        with support.server_side(self, "OrderService.StreamOrderUpdates"):
            updates = self.gw.stream_order_updates("py_e2e_slow", timeout=30.0)
        sim_faults({"latencyByEndpoint": {"Order/place": 3000}})
        try:
            with self.assertRaises(GatewayError) as caught:
                self.gw.place_order("MNQ", "BUY", 1, price=FAR_BID, order_type="LIMIT", strategy_name="py_e2e_slow", timeout=1.0)
            working = next(u for u in updates if u.status in FINAL | {"WORKING", "PARTIALLY_FILLED"})
        finally:
            sim_faults({"latencyByEndpoint": {"Order/place": 0}})
            updates.close()
        self.gw.cancel_order(working.order_id)
        self.assertEqual(working.status, "WORKING", "the order the call timed out on did reach the broker")
        self.assertEqual(caught.exception.code, grpc.StatusCode.UNKNOWN, str(caught.exception))
        self.assertIn("outcome unknown", str(caught.exception))

    def test_partial_close_retried_with_the_same_request_id_closes_once(self) -> None:
        # The broker takes 3 s to answer Position/partialCloseContract while the call's deadline is 1 s: the close
        # goes through after the client gave up. The retry with the same client_request_id must not close again.
        self.assertIsNotNone(engine.sim_url, engine.log_tail())
        account = self.gw.risk_state().account_id
        opened = place_when_risk_ready(self.gw, "MNQ", "BUY", 3, strategy_name="py_e2e_close")
        self.assertTrue(opened.success)
        start = sim_position(account, "MNQ")
        self.assertGreaterEqual(start, 3)
        sim_faults({"latencyByEndpoint": {"Position/partialCloseContract": 3000}})
        try:
            with self.assertRaises(GatewayError) as caught:
                with support.server_side(self, "OrderService.ClosePosition"):
                    self.gw.close_position("MNQ", quantity=1, client_request_id="py-close-1", timeout=1.0)
            # Still in flight at the broker: the retry waits for it and returns its answer.
            retry = self.gw.close_position("MNQ", quantity=1, client_request_id="py-close-1", timeout=10.0)
        finally:
            sim_faults({"latencyByEndpoint": {"Position/partialCloseContract": 0}})
        self.assertEqual(caught.exception.code, grpc.StatusCode.UNKNOWN, str(caught.exception))
        self.assertTrue(retry.success, retry.message)
        self.assertTrue(retry.duplicate)
        self.assertEqual(retry.closed_quantity, 1)
        wait_for(lambda: sim_position(account, "MNQ") == start - 1, "the position reduced by one contract")
        self.assertEqual(self.gw.close_position("MNQ", quantity=1, client_request_id="py-close-1").duplicate, True)
        self.assertEqual(sim_position(account, "MNQ"), start - 1)

    def test_zz_flatten_all(self) -> None:
        place_when_risk_ready(self.gw, "MNQ", "BUY", 1, price=FAR_BID, order_type="LIMIT")
        with support.server_side(self, "OrderService.FlattenAll"):
            flat = self.gw.flatten_all()
        self.assertTrue(flat.success, flat.message)
        self.assertEqual(flat.failed_contracts, [])
        self.assertGreaterEqual(flat.cancelled_orders, 1)


class MarketAndRiskE2E(unittest.TestCase):
    def setUp(self) -> None:
        self.gw = client("py_e2e_risk")

    def tearDown(self) -> None:
        self.gw.close()

    def test_risk_state(self) -> None:
        with support.server_side(self, "RiskService.GetRiskState"):
            state = self.gw.risk_state()
        self.assertIn(state.trading_state, {"ACTIVE", "REDUCING", "HALTED", "NOT_READY"})
        self.assertGreater(state.account_id, 0)
        self.assertGreater(state.balance, 0)

    def test_halted_account_refuses_entries_with_reason_code(self) -> None:
        with support.server_side(self, "RiskService.Halt"):
            halted = self.gw.halt("python client e2e")
        try:
            self.assertEqual(halted.trading_state, "HALTED")
            with self.assertRaises(GatewayError) as caught:
                with support.server_side(self, "OrderService.PlaceOrder"):
                    self.gw.place_order("MNQ", "BUY", 1, price=FAR_BID, order_type="LIMIT")
            self.assertEqual(caught.exception.code, grpc.StatusCode.FAILED_PRECONDITION)
            self.assertEqual(caught.exception.reason_code, "HALTED")
        finally:
            with support.server_side(self, "RiskService.Resume"):
                resumed = self.gw.resume("python client e2e done")
        self.assertNotEqual(resumed.trading_state, "HALTED")

    def test_bars(self) -> None:
        with support.server_side(self, "MarketDataService.StreamBars"):
            with self.gw.stream_bars("MNQ", "1s", include_open=True, timeout=30.0) as bars:
                first = next(bars)
        self.assertTrue(first.bar.contract_id.startswith("CON.F.US.MNQ."), first.bar.contract_id)
        self.assertEqual(first.bar.timeframe, "1s")
        self.assertGreater(first.bar.close, 0)
        self.assertLessEqual(first.bar.low, first.bar.high)
        with support.server_side(self, "MarketDataService.GetBars"):
            snapshot = self.gw.get_bars("MNQ", "1m", limit=5, include_open=True)
        self.assertTrue(snapshot.contract_id.startswith("CON.F.US.MNQ."))
        # `limit` closed bars, plus the in-progress bar last when include_open is set.
        self.assertGreaterEqual(len(snapshot.bars), 1)
        self.assertLessEqual(len([b for b in snapshot.bars if b.closed]), 5)
        self.assertEqual([b.start_time_ms for b in snapshot.bars], sorted(b.start_time_ms for b in snapshot.bars))


class UnreachableE2E(unittest.TestCase):
    def test_stopped_gateway_gives_a_clear_error_within_the_timeout(self) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        from topstepx_gateway import GatewayUnavailable

        with GatewayClient("127.0.0.1", port, timeout=2.0, strategy_name="x") as gw:
            started = time.monotonic()
            with self.assertRaises(GatewayUnavailable) as caught:
                gw.order_status("1")
            self.assertLess(time.monotonic() - started, 15.0)
        self.assertIn("not reachable", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
