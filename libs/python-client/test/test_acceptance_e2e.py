"""Acceptance, as a new user would try it, against a real engine with its embedded simulator:
the seed's GoOrderExecutor, copied unchanged next to the generated stubs in a fresh folder, places an
order and gets the order id back; the example strategy, run as its own process, receives bars and,
once EMA and ATR are known, places one bracketed order with stop and target on the correct sides."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import support
from engine import EngineProcess
from topstepx_gateway import GatewayClient

engine: EngineProcess
EXAMPLE = support.PROJECT / "examples" / "bracket_strategy.py"


def setUpModule() -> None:
    global engine
    engine = EngineProcess("acceptance").start()


def tearDownModule() -> None:
    engine.stop()


SCRIPT = """
import sys
from seed_go_order_executor import GoOrderExecutor
executor = GoOrderExecutor(port=int(sys.argv[1]))
order_id = executor.place_order('MNQ', 'BUY', 1, 0.0, 'MARKET', 'seed_strategy')
print('ORDER_ID=' + order_id)
"""


class SeedClientTest(unittest.TestCase):
    def test_seed_executor_places_an_order_unchanged(self) -> None:
        folder = Path(tempfile.mkdtemp(prefix="seed-client-"))
        try:
            for stub in support.OUT.glob("*.py"):
                shutil.copy(stub, folder / stub.name)
            shutil.copy(support.FIXTURES / "seed_go_order_executor.py", folder / "seed_go_order_executor.py")
            (folder / "place.py").write_text(SCRIPT)
            run = subprocess.run(
                [sys.executable, "place.py", str(engine.port)], cwd=folder, capture_output=True, text=True, timeout=60
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if "StatusCode.UNIMPLEMENTED" in run.stderr:
            self.fail("SERVER SIDE MISSING: OrderService.PlaceOrder is UNIMPLEMENTED on the engine")
        self.assertEqual(run.returncode, 0, f"seed script failed:\n{run.stdout}\n{run.stderr}\nengine log:\n{engine.log_tail()}")
        lines = [line for line in run.stdout.splitlines() if line.startswith("ORDER_ID=")]
        self.assertEqual(len(lines), 1, run.stdout)
        order_id = lines[0].removeprefix("ORDER_ID=")
        self.assertNotEqual(order_id, "")
        self.assertIn("success=True", run.stdout)
        with GatewayClient(engine.host, engine.port, timeout=10.0) as gw:
            with support.server_side(self, "OrderService.GetOrderStatus"):
                state = gw.order_status(order_id)
        self.assertTrue(state.found)
        self.assertEqual((state.order_id, state.side, state.quantity, state.strategy_name), (order_id, "BUY", 1, "seed_strategy"))



class ExampleStrategyTest(unittest.TestCase):
    def test_places_one_bracketed_order(self) -> None:
        run = subprocess.run(
            [sys.executable, str(EXAMPLE), "--port", str(engine.port), "--once", "--include-open", "--timeout", "60"],
            capture_output=True,
            text=True,
            timeout=90,
        )
        if "UNIMPLEMENTED" in run.stdout + run.stderr:
            self.fail(f"SERVER SIDE MISSING: an rpc the example uses is UNIMPLEMENTED on the engine:\n{run.stdout}{run.stderr}")
        self.assertEqual(run.returncode, 0, f"{run.stdout}\n{run.stderr}\nengine log:\n{engine.log_tail()}")
        m = re.search(r"^ORDER (\S+) (BUY|SELL) 1 (\S+) status=(\S+) stop_loss=(\S+) take_profit=(\S+)", run.stdout, re.M)
        self.assertIsNotNone(m, run.stdout)
        assert m is not None
        order_id, side, stop, target = m.group(1), m.group(2), float(m.group(5)), float(m.group(6))
        if side == "BUY":
            self.assertLess(stop, target)
        else:
            self.assertGreater(stop, target)
        with GatewayClient(engine.host, engine.port, timeout=10.0) as gw:
            with support.server_side(self, "OrderService.GetOrderStatus"):
                state = gw.order_status(order_id)
        self.assertEqual((state.found, state.side, state.strategy_name), (True, side, "bracket_example"))


class ExampleLogicTest(unittest.TestCase):
    def test_signal_and_levels(self) -> None:
        sys.path.insert(0, str(EXAMPLE.parent))
        import bracket_strategy as ex
        from topstepx_gateway import Bar

        def bar(close: float, ema: float | None, atr: float | None) -> Bar:
            return Bar("CON.F.US.MNQ.Z26", "1m", 0, close, close, close, close, 1, True, 1, atr, None, ema)

        self.assertEqual(ex.signal_for(bar(100.0, 99.0, 2.0)), "BUY")
        self.assertEqual(ex.signal_for(bar(100.0, 101.0, 2.0)), "SELL")
        self.assertIsNone(ex.signal_for(bar(100.0, 100.0, 2.0)))
        self.assertIsNone(ex.signal_for(bar(100.0, None, 2.0)))
        self.assertIsNone(ex.signal_for(bar(100.0, 99.0, None)))
        self.assertEqual(ex.bracket_levels("BUY", 21000.1, 2.0, 0.25, 8), (20996.0, 21006.0))
        self.assertEqual(ex.bracket_levels("SELL", 21000.0, 0.1, 0.25, 8), (21002.0, 20998.0))



if __name__ == "__main__":
    unittest.main()
