// Wire frames of the fan-out (docs/market-data-feed.md) and of the `bar` event to the main thread.
// Market-data thread only. A bar frame is built by string concatenation from a prefix computed once per
// (contract, timeframe): no intermediate object, one string and one Buffer per update, shared by every
// subscriber.
import type { Bar } from '@gateway/bars';
import { PRICE_SCALE } from '@gateway/shared-state';

/** Indicator values of one bar in price units; undefined until the indicator is ready. */
export interface BarIndicators {
  atr: number | undefined;
  sma: number | undefined;
  ema: number | undefined;
}

/**
 * Price units → a decimal JSON number. units / 1e9 is the double nearest the exact decimal, and JS prints
 * the shortest text that round-trips, so a tick multiple (≤ 9 decimals) prints exactly (21000.25).
 */
export function px(units: number): number {
  return units / PRICE_SCALE;
}

function opt(units: number | undefined): string {
  return units === undefined ? 'null' : String(units / PRICE_SCALE);
}

/** `{"type":"bar","symbol":…,"contractId":…,"timeframe":…,` — the constant head of a topic's bar frames. */
export function barPrefix(symbol: string, contractId: string, timeframe: string): string {
  return `{"type":"bar","symbol":${JSON.stringify(symbol)},"contractId":${JSON.stringify(contractId)},"timeframe":${JSON.stringify(timeframe)},`;
}

/** The fields of a bar as JSON members (no braces), shared by bar frames and snapshot entries. */
function barBody(b: Bar, ind: BarIndicators): string {
  return (
    `"t":${b.startMs},"end":${b.endMs},"o":${px(b.open)},"h":${px(b.high)},"l":${px(b.low)},"c":${px(b.close)},` +
    `"v":${b.volume},"n":${b.trades},"atr":${opt(ind.atr)},"sma":${opt(ind.sma)},"ema":${opt(ind.ema)}`
  );
}

export function barFrame(prefix: string, seq: number, closed: boolean, b: Bar, ind: BarIndicators): string {
  return `${prefix}"seq":${seq},"closed":${closed},${barBody(b, ind)}}`;
}

export function snapshotFrame(symbol: string, contractId: string, timeframe: string, bars: readonly Bar[], indicatorsOf: (b: Bar) => BarIndicators): string {
  let s = `{"type":"snapshot","symbol":${JSON.stringify(symbol)},"contractId":${JSON.stringify(contractId)},"timeframe":${JSON.stringify(timeframe)},"bars":[`;
  for (let i = 0; i < bars.length; i++) {
    if (i > 0) s += ',';
    s += `{${barBody(bars[i]!, indicatorsOf(bars[i]!))}}`;
  }
  return `${s}]}`;
}

export function quoteFrame(symbol: string, contractId: string, bid: number, ask: number, last: number, tMs: number): string {
  return `{"type":"quote","symbol":${JSON.stringify(symbol)},"contractId":${JSON.stringify(contractId)},"bid":${bid === 0 ? 'null' : px(bid)},"ask":${ask === 0 ? 'null' : px(ask)},"last":${last === 0 ? 'null' : px(last)},"t":${tMs}}`;
}

/** A bar as the front door's MarketDataService sends it (proto `market_data.Bar`), prices as decimals. */
export interface BarMessage {
  contractId: string;
  timeframe: string;
  startTimeMs: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  closed: boolean;
  atr?: number;
  sma?: number;
  ema?: number;
  tradeCount: number;
}

/** Payload of the `bar` event to the main thread (ADR 0003). */
export interface BarEvent {
  bar: BarMessage;
  sequence: number;
}

export function barMessage(contractId: string, timeframe: string, b: Bar, closed: boolean, ind: BarIndicators): BarMessage {
  const m: BarMessage = {
    contractId,
    timeframe,
    startTimeMs: b.startMs,
    open: px(b.open),
    high: px(b.high),
    low: px(b.low),
    close: px(b.close),
    volume: b.volume,
    closed,
    tradeCount: b.trades,
  };
  if (ind.atr !== undefined) m.atr = px(ind.atr);
  if (ind.sma !== undefined) m.sma = px(ind.sma);
  if (ind.ema !== undefined) m.ema = px(ind.ema);
  return m;
}
