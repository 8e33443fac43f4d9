#!/usr/bin/env python3
"""Example strategy: follow the trend on MNQ bars with a bracketed market order.

Subscribes to bars (StreamBars). On each bar whose ATR and EMA are known it goes long when the close
is above the EMA and short when below, with a protective stop 2 x ATR away and a target 3 x ATR away
(at least --min-ticks ticks, on the tick grid). It places at most --max-orders orders; --once stops
after the first. Run it against `npm start` (gRPC on 127.0.0.1:50051):

    /usr/bin/python3 libs/python-client/examples/bracket_strategy.py --once

Needs the generated stubs: `npx nx run python-client:generate` (the package finds libs/python-client/out).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from topstepx_gateway import Bar, GatewayClient, GatewayError  # noqa: E402


def signal_for(bar: Bar) -> Optional[str]:
    """BUY above the EMA, SELL below, None while the indicators are unknown or the close sits on the EMA."""
    if bar.atr is None or bar.ema is None or bar.atr <= 0:
        return None
    if bar.close > bar.ema:
        return "BUY"
    if bar.close < bar.ema:
        return "SELL"
    return None


def bracket_levels(side: str, close: float, atr: float, tick: float, min_ticks: int) -> tuple[float, float]:
    """Stop and target price levels on the tick grid: 2 x ATR and 3 x ATR from the close, at least min_ticks away."""
    stop_ticks = max(min_ticks, round(2 * atr / tick))
    target_ticks = max(min_ticks, round(3 * atr / tick))
    base = round(close / tick) * tick
    if side == "BUY":
        return base - stop_ticks * tick, base + target_ticks * tick
    return base + stop_ticks * tick, base - target_ticks * tick


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default=None, help="gateway host (default $GATEWAY_GRPC_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="gateway gRPC port (default $GATEWAY_GRPC_PORT or 50051)")
    p.add_argument("--symbol", default="MNQ")
    p.add_argument("--timeframe", default="1m")
    p.add_argument("--quantity", type=int, default=1)
    p.add_argument("--tick-size", type=float, default=0.25, help="the contract's tick (MNQ: 0.25)")
    p.add_argument("--min-ticks", type=int, default=8, help="minimum stop/target distance in ticks")
    p.add_argument("--strategy-name", default="bracket_example")
    p.add_argument("--include-open", action="store_true", help="act on in-progress bars too (default: closed bars only)")
    p.add_argument("--once", action="store_true", help="stop after the first order")
    p.add_argument("--max-orders", type=int, default=3)
    p.add_argument("--timeout", type=float, default=300.0, help="stop after this many seconds")
    p.add_argument("--call-timeout", type=float, default=5.0, help="deadline of each gRPC call")
    args = p.parse_args(argv)

    limit = 1 if args.once else args.max_orders
    placed = 0
    deadline = time.monotonic() + args.timeout
    with GatewayClient(args.host, args.port, timeout=args.call_timeout, strategy_name=args.strategy_name) as gw:
        print(f"connected to {gw.target}; watching {args.symbol} {args.timeframe} bars")
        try:
            with gw.stream_bars(args.symbol, args.timeframe, include_open=args.include_open, timeout=args.timeout) as bars:
                for update in bars:
                    bar = update.bar
                    side = signal_for(bar)
                    print(f"bar {bar.contract_id} close={bar.close} ema={bar.ema} atr={bar.atr} closed={bar.closed} -> {side or 'wait'}")
                    if side is None or bar.atr is None:
                        if time.monotonic() > deadline:
                            break
                        continue
                    stop_loss, take_profit = bracket_levels(side, bar.close, bar.atr, args.tick_size, args.min_ticks)
                    try:
                        result = gw.place_order(args.symbol, side, args.quantity, stop_loss=stop_loss, take_profit=take_profit)
                    except GatewayError as err:
                        print(f"order refused: code={err.code.name if err.code else None} reason={err.reason_code} field={err.field}: {err.details}")
                        return 1
                    placed += 1
                    print(
                        f"ORDER {result.order_id} {side} {args.quantity} {result.contract_id} status={result.status} "
                        f"stop_loss={stop_loss} take_profit={take_profit} ticks=({result.stop_loss_ticks}, {result.take_profit_ticks})"
                    )
                    if placed >= limit or time.monotonic() > deadline:
                        break
        except GatewayError as err:
            if err.code is not None and err.code.name == "DEADLINE_EXCEEDED":
                print(f"no signal within {args.timeout:g} s")
                return 2 if placed == 0 else 0
            print(f"gateway error: {err}")
            return 1
    return 0 if placed > 0 else 2


if __name__ == "__main__":
    sys.exit(main())
