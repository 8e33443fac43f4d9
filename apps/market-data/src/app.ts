// The market-data service: the market hub feed → marks in shared memory (seqlock), bars and indicators per
// contract and timeframe (@gateway/bars), the recent-bar cache warmed from History/retrieveBars, staleness,
// the WebSocket fan-out (feed-server.ts) and the `bar` events the front door streams over gRPC.
// Everything here runs on the market-data thread; it is the only writer of the marks region and stale flags.
import { performance } from 'node:perf_hooks';
import { BroadcastChannel } from 'node:worker_threads';
import { Atr, BarAggregator, Ema, Sma, type Bar, type BarSeries } from '@gateway/bars';
import { BROKER_TOKEN_CHANNEL, type ContractInfo, type ServiceApp, type WorkerContext } from '@gateway/runtime';
import { isSessionOpen } from '@gateway/session';
import { priceToUnits } from '@gateway/shared-state';
import { GatewayRestClient, MarketHubClient, type GatewayQuote, type GatewayTrade } from '@gateway/topstepx';
import { Counter, Gauge, Histogram } from 'prom-client';
import { backfillSeries, bucketOf, fillOpenBars, repairSeries } from './backfill';
import { barFrame, barMessage, barPrefix, quoteFrame, snapshotFrame, type BarEvent, type BarIndicators, type BarMessage } from './frames';
import { FeedRequestError, FeedServer, type FeedServerOptions, type OutgoingBar, type ResolvedTopic } from './feed-server';

/** Bars close this long after their bucket ends when no trade closes them first (feed latency). */
export const CLOSE_GRACE_MS = 250;
/** Period of the close timer and of the staleness check, ms. */
const CLOSE_TIMER_MS = 100;
/** An open bar with subscribers is re-sent at least this often, trades or not (a quiet market still shows life). */
export const IN_PROGRESS_REFRESH_MS = 1000;
/**
 * A print stamped further than this ahead of the local clock is refused (bars and mark): opening a bucket that far
 * ahead would make every real trade 'late' until the clock caught up. Covers clock skew and feed jitter.
 */
export const FUTURE_PRINT_TOLERANCE_MS = 5_000;
/** A refused future print is logged at most this often (with the count refused since the last line). */
const FUTURE_PRINT_LOG_EVERY_MS = 60_000;
/**
 * A hub outage is taken to start this long before it was noticed at the latest: a socket that dies silently is
 * detected by the hub client's server timeout (30 s, checked on a 1 s tick), and the prints of that time were lost too.
 */
const OUTAGE_LOOKBACK_MS = 32_000;
/**
 * A contract's feed that went stale and came back (a frozen feed keeps the socket up, so no reconnect) is probed for
 * lost prints at most this often: one History request on its smallest timeframe, the others only when it found bars.
 * A thin market goes stale and fresh without losing anything; this keeps those probes inside the bars rate bucket.
 */
const FROZEN_PROBE_EVERY_MS = 60_000;
/**
 * An open-bar fill runs this long after the feed came back: the history bars it takes end by then at the broker, and
 * a print stamped before the return but delivered late has arrived (it narrows the fill's window: see OpenFill).
 */
const OPEN_FILL_DELAY_MS = 1_000;
/** Readiness waits at most this long for the backfill; the rest warms in the background. */
export const BACKFILL_READY_TIMEOUT_MS = 20_000;

/**
 * The market hub is rebuilt with the newest session token once the token its connection was opened with has been
 * held this long (counted from its arrival in this thread, at most one validate period after its issue). Tokens
 * live 24 h and a newer one does not invalidate older ones (docs/topstepx-api.md §3), so a rotation alone never
 * drops the hub; whether an open hub survives its token's expiry is unconfirmed, so it is rebuilt well before.
 */
export const HUB_TOKEN_MAX_AGE_MS = 20 * 3_600_000;
/** Period of the hub token-age check, ms. */
const HUB_TOKEN_CHECK_MS = 60_000;

export interface MarketDataAppOptions {
  /** Fan-out tuning (tests shrink the byte budget and the token bucket). */
  feed?: Partial<Omit<FeedServerOptions, 'host' | 'port' | 'source'>>;
  /** Default BACKFILL_READY_TIMEOUT_MS. */
  backfillReadyTimeoutMs?: number;
  /** false skips the warm-up (tests of the live path). Default true. */
  backfill?: boolean;
  /** Hub token ageing (tests inject the clock): limit default HUB_TOKEN_MAX_AGE_MS, check period default 60 s. */
  hubToken?: { maxAgeMs?: number; checkEveryMs?: number; clock?: () => number };
}

/** A bar-repair window of one series, bucket-aligned [fromMs, toMs); due once toMs + CLOSE_GRACE_MS has passed. */
interface RepairWindow {
  fromMs: number;
  toMs: number;
  /** Not run before this time (probe spacing). */
  notBefore: number;
  /** A frozen-feed probe: the contract's other timeframes are repaired only when it finds bars. */
  probe: boolean;
}

/**
 * The fill of a contract's open bars after a feed loss (fillOpenBars): the history bars wholly inside
 * [fromMs, upMs), a spell in which the thread saw no print, go into the open bars of the longer timeframes at once,
 * instead of an hour (1h) or a day (1d) later when the closed-bucket repair makes those bars exact.
 */
interface OpenFill {
  feed: Feed;
  /** Just after the newest print stamp seen before the loss (uncapped), and after the previous fill's window. */
  fromMs: number;
  /**
   * When the feed was back (reconnect, or the first update after a frozen spell), lowered to the oldest print stamp
   * received since the loss began: a print delivered after the return may be stamped before it.
   */
  upMs: number;
  /** Prints received still lower upMs (Feed.upLowTs): until the fill runs or a newer loss begins. */
  tracking: boolean;
  /** Not run before this time (upMs + OPEN_FILL_DELAY_MS as first set). */
  notBefore: number;
  /** A frozen feed's fill waits for the probe of this series: run if it found missed bars, dropped if not. */
  probed: SeriesState | undefined;
  awaitingProbe: boolean;
}

interface SeriesState {
  feed: Feed;
  series: BarSeries;
  key: string;
  prefix: string;
  seq: number;
  /** WebSocket subscribers of this topic. */
  wsSubs: number;
  /** The main thread asked for `bar` events of this topic (StreamBars). */
  events: boolean;
  dirty: boolean;
  /** performance.now() of the first trade folded in since the last in-progress publish; 0 = none. */
  firstArrival: number;
  /** Date.now() of the last frame published for this topic. */
  lastSentMs: number;
}

interface Feed {
  info: ContractInfo;
  /** Trades / quotes received since the counters were last collected. */
  tradesPending: number;
  quotesPending: number;
  agg: BarAggregator;
  series: SeriesState[];
  bid: number;
  ask: number;
  last: number;
  /** Timestamp of the trade `last` came from (at most the local clock then): an older print does not replace it. */
  lastTradeTs: number;
  lastUpdateMs: number;
  quoteMs: number;
  /** Newest print stamp seen, not capped at the clock (-∞ before the first): where an open-bar fill's window starts. */
  maxPrintTs: number;
  /** Oldest print stamp received since the latest loss began, while an open-bar fill tracks it; -∞ = not tracking. */
  upLowTs: number;
  /** End of the latest open-bar fill window: the next one starts there at the earliest (no bar taken twice). */
  fillFloor: number;
}

const NO_INDICATORS: BarIndicators = Object.freeze({ atr: undefined, sma: undefined, ema: undefined });

/** A frame of the turn's batch; `arrival` is the firstArrival of the in-progress update it carries (0 = none). */
interface Outgoing extends OutgoingBar {
  arrival: number;
}

export function createApp(ctx: WorkerContext, options: MarketDataAppOptions = {}): ServiceApp {
  const { init, logger, state, registry, channel } = ctx;
  const config = init.config;
  const timeframes = config.marketDataTimeframes;
  const cacheSize = config.barCacheSize;

  // ---- metrics --------------------------------------------------------------------------------
  // Trades and quotes are counted in plain fields per feed on the hot path and folded into the counters when
  // scraped (prom-client hashes the labels on every inc(), even through labels()).
  new Counter({
    name: 'market_data_trades_total',
    help: 'Trades received from the market hub',
    labelNames: ['contract'],
    registers: [registry],
    collect() {
      for (const f of feeds) {
        if (f.tradesPending > 0) this.inc({ contract: f.info.root }, f.tradesPending);
        f.tradesPending = 0;
      }
    },
  });
  new Counter({
    name: 'market_data_quotes_total',
    help: 'Quotes received from the market hub',
    labelNames: ['contract'],
    registers: [registry],
    collect() {
      for (const f of feeds) {
        if (f.quotesPending > 0) this.inc({ contract: f.info.root }, f.quotesPending);
        f.quotesPending = 0;
      }
    },
  });
  const barsOut = new Counter({ name: 'market_data_bar_updates_total', help: 'Bar updates published (once per topic, whatever the subscriber count)', labelNames: ['kind'], registers: [registry] });
  const framesOut = new Counter({ name: 'market_data_ws_frames_sent_total', help: 'Frames written to WebSocket subscribers', registers: [registry] });
  const subscribersGauge = new Gauge({ name: 'market_data_ws_subscribers', help: 'Open WebSocket connections', registers: [registry] });
  const drops = new Counter({ name: 'market_data_ws_drops_total', help: 'Frames not delivered, by reason', labelNames: ['reason'], registers: [registry] });
  const disconnects = new Counter({ name: 'market_data_ws_disconnects_total', help: 'WebSocket connections closed, by reason', labelNames: ['reason'], registers: [registry] });
  const latency = new Histogram({
    name: 'market_data_trade_to_send_seconds',
    help: "Time from the arrival of the hub message carrying a trade to its bar update leaving for the sockets",
    // Fine between 0.5 and 5 ms, where the 1 ms goal of issue 5 sits (a p99 is read off as a bucket bound).
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.00125, 0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  const staleGauge = new Gauge({ name: 'market_data_stale', help: '1 while a contract is stale', labelNames: ['contract'], registers: [registry] });
  const staleEvents = new Counter({ name: 'market_data_stale_events_total', help: 'Transitions to stale, by reason', labelNames: ['contract', 'reason'], registers: [registry] });
  const repairsOut = new Counter({
    name: 'market_data_bar_repairs_total',
    help: 'Bar-series repairs from history after a market-hub outage, by result',
    labelNames: ['result'],
    registers: [registry],
  });
  const barsRepaired = new Counter({ name: 'market_data_bars_repaired_total', help: 'Closed bars replaced or added from history after a market-hub outage', registers: [registry] });
  const openFillsOut = new Counter({
    name: 'market_data_open_bar_fills_total',
    help: "Fills of a contract's open bars from history after a feed loss (hub outage, or a frozen feed its probe found lossy), by result",
    labelNames: ['result'],
    registers: [registry],
  });
  const badTrades = new Counter({ name: 'market_data_bad_trades_total', help: 'Trades refused, by reason', labelNames: ['reason'], registers: [registry] });
  const badPrice = badTrades.labels('price');
  const badVolumeOrTime = badTrades.labels('malformed');
  const futurePrints = badTrades.labels('future');

  // ---- feeds ----------------------------------------------------------------------------------
  const indicators = new WeakMap<Bar, BarIndicators>();
  const feeds: Feed[] = [];
  const byContract = new Map<string, Feed>();
  const bySymbol = new Map<string, Feed>();
  const seriesByKey = new Map<string, { feed: Feed; s: SeriesState }>();
  const dirtyList: SeriesState[] = [];
  /** Closed-bar frames of this turn, sent by flush() ahead of the open-bar updates. */
  let closedOut: Outgoing[] = [];
  let flushScheduled = false;
  const barsOutOpen = barsOut.labels('open');
  const barsOutClosed = barsOut.labels('closed');
  const barsOutRepaired = barsOut.labels('repaired');

  for (const info of init.contracts) {
    const feed: Feed = {
      info,
      tradesPending: 0,
      quotesPending: 0,
      agg: undefined as unknown as BarAggregator,
      series: [],
      bid: 0,
      ask: 0,
      last: 0,
      lastTradeTs: 0,
      lastUpdateMs: 0,
      quoteMs: 0,
      maxPrintTs: Number.NEGATIVE_INFINITY,
      upLowTs: Number.NEGATIVE_INFINITY,
      fillFloor: Number.NEGATIVE_INFINITY,
    };
    feed.agg = new BarAggregator({
      timeframes,
      cacheSize,
      onClose: (series, bar) => onBarClosed(feed, series, bar),
    });
    for (const series of feed.agg.series) {
      const key = `${info.contractId}|${series.timeframe.name}`;
      const s: SeriesState = { feed, series, key, prefix: barPrefix(info.root, info.contractId, series.timeframe.name), seq: 0, wsSubs: 0, events: false, dirty: false, firstArrival: 0, lastSentMs: 0 };
      feed.series.push(s);
      seriesByKey.set(key, { feed, s });
    }
    feeds.push(feed);
    byContract.set(info.contractId, feed);
    bySymbol.set(info.contractId.toUpperCase(), feed);
    bySymbol.set(info.root.toUpperCase(), feed);
    bySymbol.set(info.name.toUpperCase(), feed);
    staleGauge.set({ contract: info.root }, 1);
  }

  function indicatorsOf(b: Bar): BarIndicators {
    return indicators.get(b) ?? NO_INDICATORS;
  }

  /** Provisional indicators of the in-progress bar (peek: nothing committed). */
  function peekIndicators(series: BarSeries, b: Bar): BarIndicators {
    return { atr: series.atr.peek(b.high, b.low, b.close), sma: series.sma[0]?.peek(b.close), ema: series.ema[0]?.peek(b.close) };
  }

  /** Per-bar indicator values for bars that entered the cache through warm() (recomputed over the cache). */
  function annotate(series: BarSeries): void {
    const atr = new Atr(series.atr.period);
    const sma = series.sma[0] ? new Sma(series.sma[0].period) : undefined;
    const ema = series.ema[0] ? new Ema(series.ema[0].period) : undefined;
    for (const b of series.cache.snapshot()) {
      atr.update(b.high, b.low, b.close);
      sma?.update(b.close);
      ema?.update(b.close);
      indicators.set(b, { atr: atr.value, sma: sma?.value, ema: ema?.value });
    }
  }

  function onBarClosed(feed: Feed, series: BarSeries, bar: Bar): void {
    const ind: BarIndicators = { atr: series.atr.value, sma: series.sma[0]?.value, ema: series.ema[0]?.value };
    indicators.set(bar, ind);
    const s = feed.series[series.index]!;
    // The closed frame supersedes a pending in-progress update of the same bar.
    s.dirty = false;
    if (s.wsSubs === 0 && !s.events) return;
    s.seq++;
    s.lastSentMs = Date.now();
    barsOutClosed.inc();
    // Queued for the end of this turn (same turn, before the open-bar updates): the sockets get the turn's
    // frames in one write instead of a write per subscriber here, in the middle of a trade burst.
    if (s.wsSubs > 0) {
      closedOut.push({ key: s.key, frame: Buffer.from(barFrame(s.prefix, s.seq, true, bar, ind)), arrival: 0 });
      scheduleFlush();
    }
    if (s.events) emitBar(feed, s, bar, true, ind);
  }

  function emitBar(feed: Feed, s: SeriesState, bar: Bar, closed: boolean, ind: BarIndicators): void {
    const ev: BarEvent = { bar: barMessage(feed.info.contractId, s.series.timeframe.name, bar, closed, ind), sequence: s.seq };
    channel.emit('bar', ev);
  }

  /**
   * In-progress updates are coalesced per topic per event-loop turn: a burst of trades (one hub message
   * carries an array of them) yields one frame per topic, serialised once and sent to every subscriber.
   * The turn's frames (closed bars first, then open-bar updates) go out as one batch: one write per
   * subscriber per turn. The latency of every update is taken once the whole batch is written (the last
   * subscriber's write), so it is the latency of the slowest subscriber of the turn.
   */
  function flush(): void {
    flushScheduled = false;
    const batch = closedOut;
    closedOut = [];
    const now = Date.now();
    for (let i = 0; i < dirtyList.length; i++) {
      const s = dirtyList[i]!;
      if (!s.dirty) continue;
      s.dirty = false;
      const bar = s.series.current;
      const arrival = s.firstArrival;
      s.firstArrival = 0;
      if (bar === null) continue;
      const ind = peekIndicators(s.series, bar);
      s.seq++;
      s.lastSentMs = now;
      barsOutOpen.inc();
      if (s.wsSubs > 0) batch.push({ key: s.key, frame: Buffer.from(barFrame(s.prefix, s.seq, false, bar, ind)), arrival });
      if (s.events) emitBar(s.feed, s, bar, false, ind);
    }
    dirtyList.length = 0;
    if (batch.length === 0) return;
    feedServer.publishBars(batch);
    const sentAt = performance.now();
    for (let i = 0; i < batch.length; i++) {
      const o = batch[i]!;
      if (o.arrival > 0 && (o.sent ?? 0) > 0) latency.observe((sentAt - o.arrival) / 1000);
    }
  }

  function scheduleFlush(): void {
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  }

  function markDirty(s: SeriesState): void {
    if (!s.dirty) {
      s.dirty = true;
      dirtyList.push(s);
    }
    scheduleFlush();
  }

  /** Timer: re-send open bars nobody traded into for IN_PROGRESS_REFRESH_MS. */
  function refreshOpenBars(now: number): void {
    for (const f of feeds) {
      for (const s of f.series) {
        if ((s.wsSubs > 0 || s.events) && s.series.current !== null && !s.dirty && now - s.lastSentMs >= IN_PROGRESS_REFRESH_MS) markDirty(s);
      }
    }
  }

  /** One-entry cache of onTrade's timestamp parse. */
  let lastTsText = '';
  let lastTs = Number.NaN;

  function onTrade(contractId: string, t: GatewayTrade): void {
    // Timed from the hub message that carried the trade (before its JSON was parsed), not from this call.
    const arrival = market.frameArrivedAt || performance.now();
    const feed = byContract.get(contractId);
    if (feed === undefined) return;
    // Trades of a burst mostly share their timestamp text: parse it once (Date.parse is the costliest step here).
    const tsText = t.timestamp;
    let ts: number;
    if (tsText === lastTsText) ts = lastTs;
    else {
      ts = Date.parse(tsText);
      lastTsText = tsText;
      lastTs = ts;
    }
    let units: number;
    try {
      units = priceToUnits(t.price, 'price');
    } catch {
      badPrice.inc();
      return;
    }
    const vol = t.volume;
    if (!Number.isSafeInteger(ts) || !Number.isSafeInteger(vol) || vol < 1) {
      badVolumeOrTime.inc();
      return;
    }
    const now = Date.now();
    if (ts - now > FUTURE_PRINT_TOLERANCE_MS) {
      refuseFuturePrint(feed, ts - now, now);
      return;
    }
    feed.tradesPending++;
    // The mark follows the newest print by exchange time, as a bar's close does: a batch or a late print
    // arriving out of order must not move last (P&L, price band) back to an older price. The stamp kept is capped at
    // the local clock so a print stamped a little ahead (within the tolerance) cannot hold the mark until then.
    if (ts >= feed.lastTradeTs) {
      feed.lastTradeTs = Math.min(ts, now);
      feed.last = units;
      state.marks.writeTrade(feed.info.slot, units, ts, now);
    }
    touch(feed, now);
    // After touch: a print that ends a frozen spell is the first of the return, not the last before the loss.
    if (ts > feed.maxPrintTs) feed.maxPrintTs = ts;
    if (ts < feed.upLowTs) feed.upLowTs = ts;
    // Bars take the stamp capped at the local clock as well: one print a few seconds ahead would otherwise open a
    // bucket in the future and every real print after it would be late until the clock got there.
    feed.agg.onTrade(units, vol, ts > now ? now : ts);
    const series = feed.series;
    for (let i = 0; i < series.length; i++) {
      const s = series[i]!;
      if ((s.wsSubs === 0 && !s.events) || s.series.current === null) continue;
      if (s.firstArrival === 0) s.firstArrival = arrival;
      if (!s.dirty) markDirty(s);
    }
    if (feedServer.wantsQuotes(contractId)) publishQuote(feed);
  }

  let futureLoggedMs = Number.NEGATIVE_INFINITY;
  let futureUnlogged = 0;

  function refuseFuturePrint(feed: Feed, aheadMs: number, now: number): void {
    futurePrints.inc();
    futureUnlogged++;
    if (now - futureLoggedMs < FUTURE_PRINT_LOG_EVERY_MS) return;
    logger.warn({ contractId: feed.info.contractId, aheadMs, refused: futureUnlogged, toleranceMs: FUTURE_PRINT_TOLERANCE_MS }, 'trade stamped ahead of the local clock refused (bars and mark)');
    futureLoggedMs = now;
    futureUnlogged = 0;
  }

  function onQuote(contractId: string, q: Readonly<GatewayQuote>): void {
    const feed = byContract.get(contractId);
    if (feed === undefined) return;
    let bid: number;
    let ask: number;
    try {
      bid = q.bestBid === undefined ? feed.bid : priceToUnits(q.bestBid, 'bestBid');
      ask = q.bestAsk === undefined ? feed.ask : priceToUnits(q.bestAsk, 'bestAsk');
    } catch {
      return;
    }
    feed.quotesPending++;
    const now = Date.now();
    // Before the first trade the quote's last price is the best `last` there is (frames only; the mark's
    // last stays trade-driven).
    if (feed.last === 0 && typeof q.lastPrice === 'number' && Number.isFinite(q.lastPrice) && q.lastPrice > 0) feed.last = priceToUnits(q.lastPrice, 'lastPrice');
    feed.bid = bid;
    feed.ask = ask;
    feed.quoteMs = now;
    state.marks.writeQuote(feed.info.slot, bid, ask, now);
    touch(feed, now);
    if (feedServer.wantsQuotes(contractId)) publishQuote(feed);
  }

  function publishQuote(feed: Feed): void {
    feedServer.publishQuote(feed.info.contractId, Buffer.from(quoteFrame(feed.info.root, feed.info.contractId, feed.bid, feed.ask, feed.last, Date.now())));
  }

  // ---- staleness ------------------------------------------------------------------------------
  const staleFlags = new Map<Feed, boolean>(feeds.map((f) => [f, true]));
  // Shared memory outlives this thread: a restarted thread finds the flags its predecessor left (often fresh).
  // Every contract is stale until this thread sees its feed, or a feed that never comes back would stay fresh.
  for (const f of feeds) state.marks.setStale(f.info.slot, true);

  function touch(feed: Feed, now: number): void {
    feed.lastUpdateMs = now;
    if (staleFlags.get(feed)) setStale(feed, false, 'update');
  }

  function setStale(feed: Feed, stale: boolean, reason: string, silentMs?: number): void {
    if (staleFlags.get(feed) === stale) return;
    staleFlags.set(feed, stale);
    state.marks.setStale(feed.info.slot, stale);
    staleGauge.set({ contract: feed.info.root }, stale ? 1 : 0);
    staleChanged(feed, stale);
    if (stale) {
      staleEvents.inc({ contract: feed.info.root, reason });
      logger.warn({ contractId: feed.info.contractId, reason, silentMs }, 'market data stale: entries refused on this contract');
    } else {
      logger.info({ contractId: feed.info.contractId }, 'market data fresh again');
    }
  }

  function checkStale(now: number): void {
    if (!isSessionOpen(now)) return;
    for (const f of feeds) {
      if (f.lastUpdateMs === 0 || staleFlags.get(f)) continue;
      const age = now - f.lastUpdateMs;
      if (age > config.staleAfterMs) setStale(f, true, 'silent', age);
    }
  }

  // ---- fan-out --------------------------------------------------------------------------------
  const feedServer = new FeedServer({
    host: config.marketDataWsHost,
    port: config.marketDataWsPort,
    maxSnapshot: cacheSize,
    ...options.feed,
    source: {
      resolve(symbol: string, timeframe: string): ResolvedTopic {
        const feed = bySymbol.get(symbol.toUpperCase());
        if (feed === undefined) {
          throw new FeedRequestError('UNKNOWN_SYMBOL', `unknown symbol "${symbol}" (known: ${feeds.map((f) => f.info.root).join(', ')})`, 'symbol');
        }
        const key = `${feed.info.contractId}|${timeframe}`;
        if (!seriesByKey.has(key)) {
          throw new FeedRequestError('UNKNOWN_TIMEFRAME', `unknown timeframe "${timeframe}" (configured: ${timeframes.join(', ')})`, 'timeframe');
        }
        return { key, contractId: feed.info.contractId, symbol: feed.info.root, timeframe };
      },
      snapshotFrame(topic, count) {
        const { s } = seriesByKey.get(topic.key)!;
        return Buffer.from(snapshotFrame(topic.symbol, topic.contractId, topic.timeframe, s.series.cache.snapshot(count), indicatorsOf));
      },
      currentFrame(topic) {
        const { s } = seriesByKey.get(topic.key)!;
        const bar = s.series.current;
        if (bar === null) return undefined;
        return Buffer.from(barFrame(s.prefix, s.seq, false, bar, peekIndicators(s.series, bar)));
      },
      quoteFrame(contractId) {
        const feed = byContract.get(contractId)!;
        if (feed.quoteMs === 0 && feed.last === 0) return undefined;
        return Buffer.from(quoteFrame(feed.info.root, contractId, feed.bid, feed.ask, feed.last, feed.quoteMs || feed.lastUpdateMs));
      },
      onInterest(key, subscribers) {
        const e = seriesByKey.get(key);
        if (e) e.s.wsSubs = subscribers;
      },
      flushPending: flush,
    },
    hooks: {
      connected: (total) => subscribersGauge.set(total),
      disconnected: (reason, total) => {
        subscribersGauge.set(total);
        disconnects.inc({ reason });
        if (reason === 'slow_consumer' || reason === 'flooding') logger.warn({ reason }, 'market-data subscriber closed');
      },
      dropped: (reason) => drops.inc({ reason }),
      sent: (n) => framesOut.inc(n),
    },
  });

  // ---- requests from the main thread (front door) ------------------------------------------------
  function requireTopic(params: unknown): { feed: Feed; s: SeriesState } {
    const p = (params ?? {}) as Record<string, unknown>;
    const symbol = typeof p['symbol'] === 'string' ? p['symbol'] : typeof p['contractId'] === 'string' ? p['contractId'] : '';
    const feed = bySymbol.get(symbol.toUpperCase());
    if (feed === undefined) throw requestError(`symbol: unknown symbol "${symbol}"`, 'symbol');
    const tf = typeof p['timeframe'] === 'string' ? p['timeframe'] : '';
    const e = seriesByKey.get(`${feed.info.contractId}|${tf}`);
    if (e === undefined) throw requestError(`timeframe: unknown timeframe "${tf}" (configured: ${timeframes.join(', ')})`, 'timeframe');
    return e;
  }

  channel.onRequest('getBars', (params) => {
    const { feed, s } = requireTopic(params);
    const p = params as Record<string, unknown>;
    const limit = p['limit'] === undefined ? 0 : Number(p['limit']);
    if (!Number.isInteger(limit) || limit < 0) throw requestError(`limit: must be a non-negative integer, got ${String(p['limit'])}`, 'limit');
    const closed = s.series.cache.snapshot(limit === 0 ? cacheSize : limit);
    const tf = s.series.timeframe.name;
    const bars: BarMessage[] = closed.map((b) => barMessage(feed.info.contractId, tf, b, true, indicatorsOf(b)));
    const cur = s.series.current;
    if (p['includeOpen'] === true && cur !== null) bars.push(barMessage(feed.info.contractId, tf, cur, false, peekIndicators(s.series, cur)));
    return { contractId: feed.info.contractId, timeframe: tf, bars, stale: state.marks.isStale(feed.info.slot) };
  });
  channel.onRequest('subscribeBars', (params) => {
    const { feed, s } = requireTopic(params);
    s.events = true;
    return { contractId: feed.info.contractId, timeframe: s.series.timeframe.name };
  });
  channel.onRequest('unsubscribeBars', (params) => {
    const { feed, s } = requireTopic(params);
    s.events = false;
    return { contractId: feed.info.contractId, timeframe: s.series.timeframe.name };
  });

  // ---- broker clients ---------------------------------------------------------------------------
  const rest = new GatewayRestClient({
    baseUrl: init.broker.apiUrl,
    userName: config.broker.userName,
    apiKey: config.broker.apiKey,
    connections: 2,
    rateGate: state.rate,
    maxReadAttempts: 3,
    retryBudgetMs: 5_000,
    logger,
  });
  // The newest session token and when it reached this thread; and the token the live hub connection was opened
  // with (the factory runs once per connect attempt, so the last call is the live connection's).
  const tokenClock = options.hubToken?.clock ?? Date.now;
  const hubTokenMaxAgeMs = options.hubToken?.maxAgeMs ?? HUB_TOKEN_MAX_AGE_MS;
  let hubToken = init.broker.token;
  let hubTokenAt = tokenClock();
  let connToken = '';
  let connTokenAt = 0;
  const market = new MarketHubClient({
    url: init.broker.marketHubUrl,
    accessTokenFactory: () => {
      connToken = hubToken;
      connTokenAt = hubTokenAt;
      return hubToken;
    },
    staleAfterMs: config.staleAfterMs,
    logger,
  });
  market.onTrade(onTrade);
  market.onQuote(onQuote);
  market.onStale((contractId, silentMs) => {
    const feed = byContract.get(contractId);
    if (feed) setStale(feed, true, 'hub-watchdog', silentMs);
  });
  // A rotated session token (main thread, hourly) is kept for the next hub (re)connect: dropping a working
  // connection for it would lose the ticks in flight. Mid-backoff it cuts the wait short (it may be the cure).
  const tokens = new BroadcastChannel(BROKER_TOKEN_CHANNEL);
  tokens.onmessage = (ev) => {
    const t = (ev as MessageEvent).data;
    if (typeof t !== 'string' || t === '' || t === hubToken) return;
    hubToken = t;
    hubTokenAt = tokenClock();
    if (market.connection.state === 'reconnecting') market.reconnectWithFreshToken();
  };
  (tokens as unknown as { unref?: () => void }).unref?.();

  /** Timer: rebuild the hub connection once its token is old and a newer one is held. */
  function checkHubToken(): void {
    if (market.connection.state !== 'connected' || connToken === hubToken) return;
    const ageMs = tokenClock() - connTokenAt;
    if (ageMs < hubTokenMaxAgeMs) return;
    logger.info({ tokenAgeMs: ageMs }, "market hub reconnecting with the newest session token (the connection's token is getting old)");
    market.reconnectWithFreshToken();
  }

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let tokenTimer: NodeJS.Timeout | undefined;
  let backfillDone: Promise<void> = Promise.resolve();
  const backfillStats = { series: 0, bars: 0, failed: false };

  async function backfill(): Promise<void> {
    try {
      await rest.login();
      const now = Date.now();
      for (const feed of feeds) {
        for (const s of feed.series) {
          if (stopped) return;
          const used = await backfillSeries(rest, feed.info.contractId, config.broker.live, s.series, cacheSize, now, () => stopped);
          annotate(s.series);
          backfillStats.series++;
          backfillStats.bars += used;
        }
      }
      logger.info({ series: backfillStats.series, bars: backfillStats.bars }, 'bar caches warmed from history');
    } catch (err) {
      // Going live without (complete) warm-up beats not going live: indicators converge as bars close.
      backfillStats.failed = true;
      if (!stopped) logger.warn({ err: (err as Error).message, code: (err as { code?: unknown }).code }, 'bar backfill failed: live without warm-up');
    }
  }

  // ---- repair after a market-hub outage ----------------------------------------------------------
  // The Gateway replays nothing after a reconnect: the prints of the gap are lost, so the bars of that window are
  // missing or partial. Once every bucket of the window has closed, the broker's bars are taken as the record.
  /** When the current outage was noticed (`reconnecting`); undefined while connected. */
  let outageAt: number | undefined;
  /** Per feed, where its window starts: the stamp of the newest print seen, at most OUTAGE_LOOKBACK_MS back. */
  const outageFrom = new Map<Feed, number>();
  /** Pending repair windows per series. */
  const repairs = new Map<SeriesState, RepairWindow>();
  /** Pending open-bar fills, oldest first; per feed only the newest may still be tracking. */
  let openFills: OpenFill[] = [];
  /** Per feed, its newest print stamp when the current outage began: where the outage's fill window starts. */
  const outagePrintTs = new Map<Feed, number>();
  let repairing = false;
  /** Per feed: where its stale spell started (the newest print then), and when it was last probed. */
  const staleFrom = new Map<Feed, number>();
  const lastProbe = new Map<Feed, number>();

  function queueRepair(s: SeriesState, from: number, now: number, extra: { notBefore?: number; probe?: boolean } = {}): void {
    const tf = s.series.timeframe;
    // Buckets older than the cache holds are not worth a request.
    const oldest = tf.ms === 0 ? from : Math.max(from, now - cacheSize * tf.ms);
    const w: RepairWindow = { fromMs: bucketOf(tf, oldest).startMs, toMs: bucketOf(tf, now).endMs, notBefore: extra.notBefore ?? 0, probe: extra.probe ?? false };
    const prev = repairs.get(s);
    repairs.set(
      s,
      prev === undefined
        ? w
        : { fromMs: Math.min(prev.fromMs, w.fromMs), toMs: Math.max(prev.toMs, w.toMs), notBefore: Math.max(prev.notBefore, w.notBefore), probe: prev.probe && w.probe },
    );
  }

  /** Called by setStale at run time (after createApp has returned). */
  function staleChanged(feed: Feed, stale: boolean): void {
    const now = Date.now();
    if (!stale) onFeedFresh(feed, now);
    else if (feed.lastTradeTs > 0) staleFrom.set(feed, Math.max(now - OUTAGE_LOOKBACK_MS, feed.lastTradeTs));
  }

  /** A feed back from stale without a reconnect: probe its smallest timeframe for the prints of the silent spell. */
  function onFeedFresh(feed: Feed, now: number): void {
    const from = staleFrom.get(feed);
    staleFrom.delete(feed);
    if (from === undefined || outageAt !== undefined || feed.series.length === 0) return;
    let smallest = feed.series[0]!;
    for (const s of feed.series) if (s.series.timeframe.ms > 0 && (smallest.series.timeframe.ms === 0 || s.series.timeframe.ms < smallest.series.timeframe.ms)) smallest = s;
    const notBefore = (lastProbe.get(feed) ?? Number.NEGATIVE_INFINITY) + FROZEN_PROBE_EVERY_MS;
    queueRepair(smallest, from, now, { notBefore, probe: true });
    // Called from touch(), before the print that ended the spell (if one did) counts in maxPrintTs and upLowTs.
    beginTracking(feed);
    queueOpenFill(feed, feed.maxPrintTs, now, smallest);
  }

  /** A loss begins, or a frozen feed is back: prints received from now on bound the next fill's window from above. */
  function beginTracking(feed: Feed): void {
    for (const f of openFills) {
      if (f.feed !== feed || !f.tracking) continue;
      f.upMs = Math.min(f.upMs, feed.upLowTs);
      f.tracking = false;
    }
    feed.upLowTs = Number.POSITIVE_INFINITY;
  }

  /**
   * The fill of a feed's open bars over (lastPrintTs, upMs): after the newest print seen before the loss, and after
   * the previous fill's window, so no history bar is taken twice. `probed`: wait for that series' frozen-feed probe.
   */
  function queueOpenFill(feed: Feed, lastPrintTs: number, upMs: number, probed: SeriesState | undefined): void {
    const fromMs = Math.max(lastPrintTs + 1, feed.fillFloor);
    feed.fillFloor = Math.max(feed.fillFloor, upMs);
    openFills.push({ feed, fromMs, upMs, tracking: true, awaitingProbe: probed !== undefined, notBefore: upMs + OPEN_FILL_DELAY_MS, probed });
  }

  /**
   * The repair of a probed series ran: its feed's fills waiting for that probe run if it found missed bars (or if
   * an outage's repair merged into the window, which then was no probe), and are dropped otherwise.
   */
  function settleProbe(s: SeriesState, found: boolean): void {
    openFills = openFills.filter((f) => {
      if (!f.awaitingProbe || f.probed !== s) return true;
      if (found) {
        f.awaitingProbe = false;
        return true;
      }
      if (f.tracking) f.feed.upLowTs = Number.NEGATIVE_INFINITY;
      return false;
    });
  }

  market.connection.on('reconnecting', () => {
    if (outageAt !== undefined) return;
    const now = Date.now();
    outageAt = now;
    // Prints are delivered in order: what was lost is newer than the newest print seen.
    for (const f of feeds) {
      outageFrom.set(f, Math.max(now - OUTAGE_LOOKBACK_MS, Math.min(f.lastTradeTs, now)));
      // Prints can arrive before `reconnected` (once the trades subscription is re-sent): the fill's window starts
      // after the prints seen before the loss, and is bounded above by those seen from now on.
      outagePrintTs.set(f, f.maxPrintTs);
      beginTracking(f);
    }
  });
  market.connection.on('reconnected', () => {
    if (outageAt === undefined) return;
    const now = Date.now();
    for (const f of feeds) {
      const from = outageFrom.get(f) ?? outageAt;
      for (const s of f.series) queueRepair(s, from, now);
      staleFrom.delete(f);
      // A frozen spell's fill still waiting for its probe runs: the outage's repairs merged into that probe's window.
      for (const o of openFills) if (o.feed === f) o.awaitingProbe = false;
      queueOpenFill(f, outagePrintTs.get(f) ?? f.maxPrintTs, now, undefined);
    }
    logger.warn({ outageMs: now - outageAt }, 'market hub back: open bars are filled from history now, bars of the gap repaired once their buckets close');
    outageAt = undefined;
    outageFrom.clear();
    outagePrintTs.clear();
  });

  /** Timer: starts the repairs that are due, one series after another (one run at a time). */
  function startRepairs(now: number): void {
    if (repairing || (repairs.size === 0 && openFills.length === 0)) return;
    const due: Array<[SeriesState, RepairWindow]> = [];
    for (const e of repairs) if (e[1].toMs + CLOSE_GRACE_MS <= now && e[1].notBefore <= now) due.push(e);
    const fills = openFills.filter((f) => !f.awaitingProbe && f.notBefore <= now);
    if (due.length === 0 && fills.length === 0) return;
    for (const [s] of due) repairs.delete(s);
    if (fills.length > 0) openFills = openFills.filter((f) => !fills.includes(f));
    repairing = true;
    void runRepairs(due, fills).finally(() => {
      repairing = false;
    });
  }

  async function runRepairs(due: Array<[SeriesState, RepairWindow]>, fills: readonly OpenFill[]): Promise<void> {
    // The warm-up first: its merge and a repair's would otherwise race for the same caches.
    await backfillDone;
    // The open bars first: they are what strategies read now; the closed buckets' repairs follow. One request per
    // contract for all its due fills (a thin market's stale spells may have queued several behind one probe).
    for (const feed of new Set(fills.map((f) => f.feed))) {
      if (stopped) return;
      await runOpenFills(feed, fills.filter((f) => f.feed === feed));
    }
    for (const [s, w] of due) {
      if (stopped) return;
      const contractId = s.feed.info.contractId;
      try {
        if (w.probe) lastProbe.set(s.feed, Date.now());
        const taken = await repairSeries(rest, contractId, config.broker.live, s.series, w.fromMs, w.toMs, Date.now(), () => stopped);
        if (stopped) return;
        repairsOut.inc({ result: 'ok' });
        settleProbe(s, !w.probe || taken.length > 0);
        if (taken.length === 0) continue;
        // The probe found prints the frozen feed lost: the other timeframes of the contract missed them too.
        if (w.probe) for (const o of s.feed.series) if (o !== s) queueRepair(o, w.fromMs, Date.now());
        barsRepaired.inc(taken.length);
        annotate(s.series);
        publishRepaired(s, taken[0]!.startMs);
        logger.info({ contractId, timeframe: s.series.timeframe.name, bars: taken.length, fromMs: w.fromMs, toMs: w.toMs }, 'bars repaired from history after a hub outage');
      } catch (err) {
        settleProbe(s, false);
        if (!stopped) {
          repairsOut.inc({ result: 'failed' });
          logger.warn(
            { contractId, timeframe: s.series.timeframe.name, fromMs: w.fromMs, toMs: w.toMs, err: (err as Error).message, code: (err as { code?: unknown }).code },
            'bar repair after a hub outage failed: the bars of the gap stay as received',
          );
        }
      }
    }
  }

  /**
   * Fills a feed's open bars from one history request over its fills' windows (fillOpenBars) and re-sends those that
   * changed as in-progress updates: their provisional indicators are peeked from the filled bar, as for any open bar,
   * and no closed bar or committed indicator state is touched.
   */
  async function runOpenFills(feed: Feed, fills: readonly OpenFill[]): Promise<void> {
    for (const f of fills) {
      if (!f.tracking) continue;
      // The newest fill of the feed (a newer loss would have ended its tracking): nothing tracks after it.
      f.upMs = Math.min(f.upMs, feed.upLowTs);
      f.tracking = false;
      feed.upLowTs = Number.NEGATIVE_INFINITY;
    }
    const windows = fills.map((f) => ({ fromMs: f.fromMs, toMs: f.upMs }));
    const contractId = feed.info.contractId;
    try {
      const changed = await fillOpenBars(rest, contractId, config.broker.live, feed.agg.series, windows, Date.now, () => stopped);
      if (stopped) return;
      openFillsOut.inc({ result: 'ok' });
      for (const series of changed) {
        const s = feed.series[series.index]!;
        if (s.wsSubs > 0 || s.events) markDirty(s);
      }
      if (changed.length > 0) {
        logger.info({ contractId, timeframes: changed.map((c) => c.timeframe.name), windows }, 'open bars filled from history after a feed loss');
      }
    } catch (err) {
      if (!stopped) {
        openFillsOut.inc({ result: 'failed' });
        logger.warn(
          { contractId, windows, err: (err as Error).message, code: (err as { code?: unknown }).code },
          'open-bar fill after a feed loss failed: the open bars lack the lost trades until their buckets close and are repaired',
        );
      }
    }
  }

  /**
   * Re-sends, as closed updates oldest first, every cached bar from the first repaired one on (the later ones'
   * indicators changed with it), then the open bar with its new provisional indicators.
   */
  function publishRepaired(s: SeriesState, fromStart: number): void {
    if (s.wsSubs === 0 && !s.events) return;
    const bars = s.series.cache.snapshot();
    for (const bar of bars) {
      if (bar.startMs < fromStart) continue;
      const ind = indicatorsOf(bar);
      s.seq++;
      barsOutRepaired.inc();
      if (s.wsSubs > 0) closedOut.push({ key: s.key, frame: Buffer.from(barFrame(s.prefix, s.seq, true, bar, ind)), arrival: 0 });
      if (s.events) emitBar(s.feed, s, bar, true, ind);
    }
    s.lastSentMs = Date.now();
    if (s.series.current !== null) markDirty(s);
    else scheduleFlush();
  }

  return {
    async start() {
      await feedServer.start();
      await market.start();
      for (const f of feeds) {
        await market.subscribeQuotes(f.info.contractId);
        await market.subscribeTrades(f.info.contractId);
      }
      timer = setInterval(() => {
        const now = Date.now();
        for (const f of feeds) f.agg.closeUpTo(now - CLOSE_GRACE_MS);
        refreshOpenBars(now);
        checkStale(now);
        startRepairs(now);
      }, CLOSE_TIMER_MS);
      timer.unref();
      tokenTimer = setInterval(checkHubToken, options.hubToken?.checkEveryMs ?? HUB_TOKEN_CHECK_MS);
      tokenTimer.unref();
      if (options.backfill !== false) {
        backfillDone = backfill();
        const limit = options.backfillReadyTimeoutMs ?? BACKFILL_READY_TIMEOUT_MS;
        let t: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          backfillDone.then(() => false),
          new Promise<boolean>((resolve) => {
            t = setTimeout(() => resolve(true), limit);
          }),
        ]);
        clearTimeout(t);
        if (timedOut) logger.warn({ afterMs: limit }, 'bar backfill still running: ready now, caches warm in the background');
      }
      logger.info({ contracts: feeds.map((f) => f.info.contractId), timeframes, wsPort: feedServer.port }, 'market-data started');
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      clearInterval(tokenTimer);
      tokens.close();
      await feedServer.close();
      await market.stop().catch(() => undefined);
      await Promise.race([backfillDone, new Promise((r) => setTimeout(r, 500))]);
      await rest.close().catch(() => undefined);
      logger.info('market-data stopped');
    },
    readyInfo: () => ({
      contracts: feeds.length,
      wsPort: feedServer.port,
      wsUrl: `ws://${config.marketDataWsHost}:${feedServer.port}`,
      timeframes: [...timeframes],
      backfilledBars: backfillStats.bars,
    }),
  };
}

function requestError(message: string, field: string): Error {
  return Object.assign(new Error(message), { code: 'INVALID_ARGUMENT', field });
}
