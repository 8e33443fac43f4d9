"""GatewayClient against an in-process fake server: conversion to typed results, error mapping
(status, reason code, field), per-call deadlines, an unreachable gateway, and configuration."""

from __future__ import annotations

import os
import socket
import time
import unittest
from unittest import mock

import grpc

import support  # noqa: F401
from fake_gateway import FakeGateway
from topstepx_gateway import (
    BarUpdate,
    GatewayClient,
    GatewayError,
    GatewayUnavailable,
    OrderRefused,
    OrderResult,
)

fake: FakeGateway


def setUpModule() -> None:
    global fake
    fake = FakeGateway()


def tearDownModule() -> None:
    fake.stop()


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OrdersTest(unittest.TestCase):
    def setUp(self) -> None:
        self.gw = GatewayClient("127.0.0.1", fake.port, timeout=3.0, strategy_name="unit")

    def tearDown(self) -> None:
        self.gw.close()

    def test_place_order_returns_typed_result_and_omits_unset_bracket(self) -> None:
        r = self.gw.place_order("MNQ", "BUY", 1)
        self.assertIsInstance(r, OrderResult)
        self.assertEqual((r.success, r.order_id, r.status, r.broker_order_id), (True, "ord-1", "WORKING", 1001))
        self.assertEqual(r.message, "sl=False tp=False")
        self.assertIsNone(r.average_fill_price)
        sent = fake.orders.requests[-1]
        self.assertEqual((sent.strategy_name, sent.order_type, sent.quantity), ("unit", "", 1))

    def test_place_order_sends_bracket_levels(self) -> None:
        r = self.gw.place_order("MNQ", "BUY", 1, stop_loss=20990.0, take_profit=21020.0, strategy_name="other")
        self.assertEqual(r.message, "sl=True tp=True")
        self.assertEqual(r.stop_loss_ticks, -40)
        sent = fake.orders.requests[-1]
        self.assertEqual((sent.stop_loss, sent.take_profit, sent.strategy_name), (20990.0, 21020.0, "other"))

    def test_strategy_name_is_required(self) -> None:
        with GatewayClient("127.0.0.1", fake.port) as gw:
            with self.assertRaisesRegex(ValueError, "strategy_name"):
                gw.place_order("MNQ", "BUY", 1)

    def test_risk_denial_carries_status_and_reason_code(self) -> None:
        with self.assertRaises(GatewayError) as caught:
            self.gw.place_order("REFUSE", "BUY", 1)
        err = caught.exception
        self.assertNotIsInstance(err, GatewayUnavailable)
        self.assertEqual(err.code, grpc.StatusCode.FAILED_PRECONDITION)
        self.assertEqual(err.reason_code, "DAILY_LOSS_LIMIT")
        self.assertIn("DAILY_LOSS_LIMIT", str(err))
        self.assertEqual(err.method, "PlaceOrder")

    def test_invalid_argument_names_the_field(self) -> None:
        with self.assertRaises(GatewayError) as caught:
            self.gw.place_order("MNQ", "HOLD", 1)
        self.assertEqual(caught.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(caught.exception.field, "side")
        self.assertIsNone(caught.exception.reason_code)

    def test_refusal_in_the_response_body_raises_order_refused(self) -> None:
        with self.assertRaises(OrderRefused) as caught:
            self.gw.place_order("BROKER_NO", "SELL", 1)
        self.assertEqual(caught.exception.reason_code, "BROKER_REJECTED")
        self.assertIsNone(caught.exception.code)
        self.assertEqual(caught.exception.result.order_id, "ord-1")  # type: ignore[attr-defined]

    def test_engine_unavailable_answer_is_not_a_lost_gateway(self) -> None:
        with self.assertRaises(GatewayError) as caught:
            self.gw.place_order("BROKER_DOWN", "BUY", 1)
        self.assertNotIsInstance(caught.exception, GatewayUnavailable)
        self.assertEqual(caught.exception.code, grpc.StatusCode.UNAVAILABLE)
        self.assertIn("broker not reachable", caught.exception.details)

    def test_every_call_has_a_deadline(self) -> None:
        # An order call whose deadline fires may still have been sent: UNKNOWN, never DEADLINE_EXCEEDED
        # ("nothing was sent" in orders.proto).
        with self.assertRaises(GatewayError) as caught:
            self.gw.place_order("SLOW", "BUY", 1, timeout=0.3)
        self.assertEqual(caught.exception.code, grpc.StatusCode.UNKNOWN)
        self.assertNotIsInstance(caught.exception, GatewayUnavailable)
        with self.assertRaises(GatewayError) as caught:
            self.gw.place_batch([{"symbol": "SLOW", "side": "BUY", "quantity": 1}], timeout=0.3)
        self.assertEqual((caught.exception.code, caught.exception.method), (grpc.StatusCode.UNKNOWN, "PlaceBatch"))

    def test_batch_reports_each_order(self) -> None:
        b = self.gw.place_batch([{"symbol": "MNQ", "side": "BUY", "quantity": 1}, {"symbol": "MNQ", "side": "SELL", "quantity": 9}])
        self.assertEqual((b.succeeded, b.failed), (1, 1))
        self.assertEqual([r.success for r in b.results], [True, False])
        self.assertEqual(b.results[1].reason_code, "BROKER_REJECTED")
        self.assertEqual(b.results[1].status, "REJECTED")
        with self.assertRaisesRegex(ValueError, r"orders\[0\]\.quantity"):
            self.gw.place_batch([{"symbol": "MNQ", "side": "BUY"}])

    def test_status_cancel_flatten(self) -> None:
        s = self.gw.order_status("ord-9")
        self.assertEqual((s.found, s.order_id, s.status, s.filled_quantity, s.average_fill_price, s.price), (True, "ord-9", "FILLED", 2, 21000.25, None))
        with self.assertRaises(GatewayError) as caught:
            self.gw.order_status("missing")
        self.assertEqual((caught.exception.code, caught.exception.field), (grpc.StatusCode.NOT_FOUND, "order_id"))
        c = self.gw.cancel_order("ord-9")
        self.assertEqual((c.success, c.order_id, c.status), (True, "ord-9", "CANCELLED"))
        f = self.gw.flatten_all()
        self.assertEqual((f.success, f.cancelled_orders, f.closed_positions, f.failed_contracts), (True, 2, 1, ["CON.F.US.ES.Z26"]))

    def test_close_and_flatten_carry_the_client_request_id(self) -> None:
        c = self.gw.close_position("MNQ", quantity=1, client_request_id="close-7")
        self.assertEqual(fake.orders.requests[-1].client_request_id, "close-7")
        self.assertEqual((c.success, c.closed_quantity, c.duplicate), (True, 1, False))
        self.assertTrue(self.gw.close_position("MNQ", quantity=1, client_request_id="seen").duplicate)
        f = self.gw.flatten_all(client_request_id="seen")
        self.assertEqual(fake.orders.requests[-1].client_request_id, "seen")
        self.assertTrue(f.duplicate)

    def test_close_whose_deadline_fires_is_an_unknown_outcome(self) -> None:
        # The close may have been sent after this side gave up: UNKNOWN ("nothing was sent" is DEADLINE_EXCEEDED),
        # and the message says how to retry safely.
        with self.assertRaises(GatewayError) as caught:
            self.gw.close_position("SLOW", quantity=1, client_request_id="close-slow", timeout=0.3)
        self.assertEqual((caught.exception.code, caught.exception.method), (grpc.StatusCode.UNKNOWN, "ClosePosition"))
        self.assertIn("same client_request_id", str(caught.exception))

    def test_unimplemented_rpc_is_a_gateway_error(self) -> None:
        with self.assertRaises(GatewayError) as caught:
            self.gw.modify_order("ord-1", quantity=2)
        self.assertEqual(caught.exception.code, grpc.StatusCode.UNIMPLEMENTED)

    def test_order_updates_stream(self) -> None:
        with self.gw.stream_order_updates("alpha") as updates:
            got = [u for _, u in zip(range(3), updates)]
        self.assertEqual([u.sequence for u in got], [1, 2, 3])
        self.assertEqual([u.status for u in got], ["WORKING", "WORKING", "FILLED"])
        self.assertTrue(all(u.strategy_name == "alpha" for u in got))

    def test_stream_ended_by_the_server_raises(self) -> None:
        # The engine ends its streams with status OK when it shuts down: a strategy's `for` loop must not
        # just stop as if nothing happened (the fake ends StreamOrderUpdates after 3 updates).
        got = []
        with self.gw.stream_order_updates("alpha") as updates:
            with self.assertRaises(GatewayError) as caught:
                for u in updates:
                    got.append(u)
        self.assertEqual(len(got), 3)
        self.assertEqual(caught.exception.method, "StreamOrderUpdates")
        self.assertIn("ended by the server", str(caught.exception))


class MarketAndRiskTest(unittest.TestCase):
    def setUp(self) -> None:
        self.gw = GatewayClient("127.0.0.1", fake.port, timeout=3.0)

    def tearDown(self) -> None:
        self.gw.close()

    def test_stream_bars_typed_and_closable(self) -> None:
        fake.market.stream_ended.clear()
        sub = self.gw.stream_bars("MNQ", "1m")
        first, second = next(sub), next(sub)
        self.assertIsInstance(first, BarUpdate)
        self.assertEqual((first.bar.contract_id, first.bar.timeframe, first.sequence), ("MNQ", "1m", 1))
        self.assertIsNone(first.bar.atr)
        self.assertEqual((second.bar.atr, second.bar.ema, second.bar.close), (4.5, 20999.0, 21002.0))
        sub.close()
        self.assertEqual(list(sub), [])
        self.assertTrue(fake.market.stream_ended.wait(5))

    def test_stream_deadline_ends_with_deadline_exceeded(self) -> None:
        sub = self.gw.stream_bars(["MNQ"], ["1m"], timeout=0.5)
        with self.assertRaises(GatewayError) as caught:
            list(sub)
        self.assertEqual(caught.exception.code, grpc.StatusCode.DEADLINE_EXCEEDED)

    def test_get_bars(self) -> None:
        bars = self.gw.get_bars("MNQ", "5m", limit=2)
        self.assertEqual([b.close for b in bars.bars], [100.0, 101.0])
        with self.assertRaises(GatewayError) as caught:
            self.gw.get_bars("MNQ", "7x")
        self.assertEqual(caught.exception.field, "timeframe")

    def test_risk_state(self) -> None:
        s = self.gw.risk_state()
        self.assertEqual((s.account_id, s.trading_state, s.balance, s.trading_day), (7, "ACTIVE", 50000.0, "2026-11-24"))
        self.assertEqual(len(s.positions), 1)
        self.assertEqual((s.positions[0].net_quantity, s.positions[0].mark_price, s.positions[0].unrealized_pnl), (-2, 20990.0, None))


class ConnectionTest(unittest.TestCase):
    def test_unreachable_gateway_fails_clearly_within_the_timeout(self) -> None:
        port = closed_port()
        with GatewayClient("127.0.0.1", port, timeout=1.0, strategy_name="unit") as gw:
            started = time.monotonic()
            with self.assertRaises(GatewayUnavailable) as caught:
                gw.place_order("MNQ", "BUY", 1)
            elapsed = time.monotonic() - started
        self.assertEqual(caught.exception.code, grpc.StatusCode.UNAVAILABLE)
        self.assertIn(f"127.0.0.1:{port}", str(caught.exception))
        self.assertIn("not reachable", str(caught.exception))
        # Bounded by the 1 s timeout (generous margin for a loaded machine): it never hangs.
        self.assertLess(elapsed, 10.0)

    def test_unreachable_gateway_on_streams(self) -> None:
        with GatewayClient("127.0.0.1", closed_port(), timeout=0.5) as gw:
            with self.assertRaises(GatewayUnavailable):
                gw.stream_bars("MNQ", "1m")

    def test_settings_from_env(self) -> None:
        env = {"GATEWAY_GRPC_HOST": "10.1.2.3", "GATEWAY_GRPC_PORT": "6000", "GRPC_PORT": "7000", "GATEWAY_TIMEOUT": "2.5"}
        with mock.patch.dict(os.environ, env, clear=False):
            gw = GatewayClient()
            self.assertEqual((gw.target, gw.timeout), ("10.1.2.3:6000", 2.5))
            gw.close()
            gw = GatewayClient("127.0.0.1", 6001, timeout=1.0)
            self.assertEqual((gw.target, gw.timeout), ("127.0.0.1:6001", 1.0))
            gw.close()
        with mock.patch.dict(os.environ, {"GRPC_HOST": "h", "GRPC_PORT": "7001"}, clear=False):
            for k in ("GATEWAY_GRPC_HOST", "GATEWAY_GRPC_PORT"):
                os.environ.pop(k, None)
            gw = GatewayClient()
            self.assertEqual(gw.target, "h:7001")
            gw.close()

    def test_bad_settings_name_the_source(self) -> None:
        with mock.patch.dict(os.environ, {"GATEWAY_GRPC_PORT": "http"}, clear=False):
            with self.assertRaisesRegex(ValueError, "GATEWAY_GRPC_PORT"):
                GatewayClient()
        with self.assertRaisesRegex(ValueError, "port"):
            GatewayClient("127.0.0.1", 70000)
        with self.assertRaisesRegex(ValueError, "timeout"):
            GatewayClient("127.0.0.1", 1, timeout=0)


if __name__ == "__main__":
    unittest.main()
