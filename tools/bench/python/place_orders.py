"""PlaceOrder round trips through the shipped Python client (topstepx_gateway.GatewayClient), the way a
strategy calls the engine. Run by tools/bench/src/python.ts with Debian's /usr/bin/python3 (grpcio):

    place_orders.py HOST PORT WARMUP COUNT STRATEGY SYMBOL

Prints one JSON object: {"samples_us": [...], "errors": [...], "placed": N}. Market orders of 1 contract,
alternating BUY/SELL (position stays near flat); each sample is perf_counter_ns around place_order().
"""

import json
import sys
import time

from topstepx_gateway import GatewayClient, GatewayError


def main() -> int:
    host, port, warmup, count, strategy, symbol = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
    client = GatewayClient(host, port, timeout=30.0, strategy_name=strategy)
    samples: list[float] = []
    errors: list[str] = []
    placed = 0
    try:
        client.connect(timeout=60.0)
        for i in range(warmup + count):
            side = "BUY" if i % 2 == 0 else "SELL"
            t0 = time.perf_counter_ns()
            try:
                client.place_order(symbol, side, 1)
            except GatewayError as err:
                errors.append(f"{type(err).__name__}: {err}")
                if len(errors) >= 10:
                    break
                continue
            dt = (time.perf_counter_ns() - t0) / 1000.0
            placed += 1
            if i >= warmup:
                samples.append(dt)
    finally:
        client.close()
    print(json.dumps({"samples_us": samples, "errors": errors, "placed": placed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
