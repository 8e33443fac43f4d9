"""The generated stubs: importable under the proto's names and the seed's names, wire-identical."""

from __future__ import annotations

import unittest

import support  # noqa: F401
import go_orders_pb2
import go_orders_pb2_grpc
import orders_pb2
import orders_pb2_grpc


class StubsTest(unittest.TestCase):
    def test_seed_names_are_the_orders_modules(self) -> None:
        self.assertIs(go_orders_pb2.OrderRequest, orders_pb2.OrderRequest)
        self.assertIs(go_orders_pb2_grpc.OrderServiceStub, orders_pb2_grpc.OrderServiceStub)
        self.assertEqual(go_orders_pb2.DESCRIPTOR.package, "orders")

    def test_seed_fields_1_to_8_round_trip(self) -> None:
        seed = go_orders_pb2.OrderRequest(
            symbol="MNQ", side="BUY", quantity=2, price=21000.25, order_type="LIMIT", strategy_name="s", stop_loss=20990.0, take_profit=None
        )
        wire = seed.SerializeToString()
        back = orders_pb2.OrderRequest.FromString(wire)
        self.assertEqual((back.symbol, back.side, back.quantity, back.price, back.order_type, back.strategy_name), ("MNQ", "BUY", 2, 21000.25, "LIMIT", "s"))
        self.assertTrue(back.HasField("stop_loss"))
        self.assertFalse(back.HasField("take_profit"))
        numbers = {f.name: f.number for f in orders_pb2.OrderRequest.DESCRIPTOR.fields}
        self.assertEqual(
            [numbers[n] for n in ("symbol", "side", "quantity", "price", "order_type", "strategy_name", "stop_loss", "take_profit")],
            list(range(1, 9)),
        )

    def test_services_present(self) -> None:
        import market_data_pb2_grpc
        import risk_pb2_grpc

        for cls in (orders_pb2_grpc.OrderServiceStub, market_data_pb2_grpc.MarketDataServiceStub, risk_pb2_grpc.RiskServiceStub):
            self.assertTrue(callable(cls))


if __name__ == "__main__":
    unittest.main()
