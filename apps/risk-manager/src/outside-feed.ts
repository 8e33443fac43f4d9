// The risk-manager's own market-hub connection for the contracts outside CONTRACTS that some account holds
// (outside-prices.ts says why): opened on the first such contract, subscribed to trades and quotes of exactly
// those contracts, its prices parsed to price units the way market-data parses them and kept in OutsidePrices.
// Until it delivers a price the account stays REDUCING (UNPRICED_POSITION), so a first connect that fails (the
// broker not accepting yet, a transient error) is retried until stop (the hub's retryFirstConnect), like any
// later reconnect.
// Thread: the risk-manager thread only.
import { priceToUnits } from '@gateway/shared-state';
import { MarketHubClient, type GatewayQuote, type GatewayTrade, type Logger } from '@gateway/topstepx';
import type { OutsidePrices } from './outside-prices';

/**
 * Waits before each new connect attempt after a failed one, the first connect's included; the last repeats until
 * stop. A reconnect after a connection that succeeded makes an immediate first try.
 */
export const OUTSIDE_FEED_RETRY_DELAYS_MS: readonly number[] = Object.freeze([1_000, 2_000, 5_000, 10_000, 30_000]);

/**
 * A subscription the hub refused is tried again no earlier than this (at the next sync after it), rather than at
 * every evaluation (RISK_EVAL_INTERVAL_MS).
 */
export const OUTSIDE_FEED_RESUBSCRIBE_MS = 1_000;

export interface OutsideFeedOptions {
  /** The broker's market hub. */
  url: string;
  accessTokenFactory: () => string;
  prices: OutsidePrices;
  logger: Logger;
  /** The root to name in log lines (MES of CON.F.US.MES.Z26), when known. */
  rootOf: (contractId: string) => string | undefined;
  /** Default OUTSIDE_FEED_RETRY_DELAYS_MS. */
  retryDelaysMs?: readonly number[];
  /** Wall clock, epoch ms (the resubscribe wait). Default Date.now. */
  now?: () => number;
}

export class OutsideFeed {
  private hub: MarketHubClient | undefined;
  /** Contracts subscribed, or recorded to be subscribed at connect. */
  private readonly watched = new Set<string>();
  /** Contract → time before which a refused subscription is not tried again. */
  private readonly resubscribeAt = new Map<string, number>();
  /** hub.start(): connected, or rejected by stop(); from the first watched contract. */
  private starting: Promise<void> | undefined;
  private stopped = false;
  private readonly delays: readonly number[];
  private readonly now: () => number;

  constructor(private readonly options: OutsideFeedOptions) {
    const delays = options.retryDelaysMs ?? OUTSIDE_FEED_RETRY_DELAYS_MS;
    if (delays.length === 0 || delays.some((d) => !Number.isFinite(d) || d < 0)) throw new RangeError('retryDelaysMs must be a non-empty list of delays >= 0');
    this.delays = delays;
    this.now = options.now ?? Date.now;
  }

  /** How many contracts the feed watches. */
  get size(): number {
    return this.watched.size;
  }

  /** Watches exactly `held`, the contracts outside the directory some account holds open; connects on the first. */
  sync(held: ReadonlySet<string>): void {
    if (this.stopped) return;
    for (const id of this.watched) if (!held.has(id)) this.unwatch(id);
    for (const id of held) if (!this.watched.has(id)) this.watch(id);
  }

  /** Closes the hub; a first connect still being retried ends with it (a back-off wait at once). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.hub?.stop().catch((err: unknown) => this.options.logger.warn({ err }, 'market hub stop failed'));
    await this.starting;
  }

  private watch(contractId: string): void {
    if (this.now() < (this.resubscribeAt.get(contractId) ?? 0)) return;
    this.resubscribeAt.delete(contractId);
    this.watched.add(contractId);
    this.options.prices.watch(contractId);
    const hub = this.hubClient();
    this.options.logger.info({ contractId, root: this.options.rootOf(contractId) }, 'pricing a position outside CONTRACTS from the market hub');
    // Before the hub is connected the subscriptions are recorded and sent at connect.
    Promise.all([hub.subscribeTrades(contractId), hub.subscribeQuotes(contractId)]).catch((err: unknown) => {
      if (this.stopped || !this.watched.has(contractId)) return;
      this.options.logger.warn({ err, contractId }, 'market hub refused the subscription: the position stays unpriced; retrying');
      this.watched.delete(contractId);
      this.options.prices.forget(contractId);
      this.resubscribeAt.set(contractId, this.now() + OUTSIDE_FEED_RESUBSCRIBE_MS);
    });
    this.starting ??= this.start(hub);
  }

  private unwatch(contractId: string): void {
    this.watched.delete(contractId);
    this.options.prices.forget(contractId);
    this.options.logger.info({ contractId }, 'no account holds this contract outside CONTRACTS any more: market hub unsubscribed');
    const hub = this.hub;
    if (hub === undefined) return;
    Promise.all([hub.unsubscribeTrades(contractId), hub.unsubscribeQuotes(contractId)]).catch((err: unknown) => {
      // Its events are ignored from now on anyway (OutsidePrices forgot the contract).
      if (!this.stopped) this.options.logger.warn({ err, contractId }, 'market hub unsubscribe failed');
    });
  }

  /** Connects, the hub retrying failed attempts (its own log lines) until connected or stopped. */
  private async start(hub: MarketHubClient): Promise<void> {
    const log = this.options.logger;
    try {
      await hub.start();
      log.info({ contracts: [...this.watched] }, 'market hub connected for contracts outside CONTRACTS');
    } catch (err) {
      // With retryFirstConnect, start rejects only once stop() was called.
      if (!this.stopped) log.error({ err }, 'market hub start failed: positions outside CONTRACTS stay unpriced');
    }
  }

  private hubClient(): MarketHubClient {
    if (this.hub !== undefined) return this.hub;
    const { logger, prices } = this.options;
    // staleAfterMs 0: no watchdog here, OutsidePrices judges each price's age itself (connected or not).
    const hub = new MarketHubClient({
      url: this.options.url,
      accessTokenFactory: this.options.accessTokenFactory,
      staleAfterMs: 0,
      reconnectDelaysMs: [0, ...this.delays],
      retryFirstConnect: true,
      logger,
    });
    hub.onTrade((contractId: string, t: GatewayTrade) => {
      let units: number;
      try {
        units = priceToUnits(t.price, 'price');
      } catch {
        return;
      }
      prices.trade(contractId, units, Date.parse(t.timestamp));
    });
    hub.onQuote((contractId: string, q: Readonly<GatewayQuote>) => {
      // The merged quote: a field the update left out keeps its last value.
      let bid: number;
      let ask: number;
      try {
        bid = q.bestBid === undefined ? 0 : priceToUnits(q.bestBid, 'bestBid');
        ask = q.bestAsk === undefined ? 0 : priceToUnits(q.bestAsk, 'bestAsk');
      } catch {
        return;
      }
      prices.quote(contractId, bid, ask);
    });
    hub.connection.on('reconnecting', () => logger.warn({}, 'market hub (contracts outside CONTRACTS) lost: their prices go stale after STALE_AFTER_MS'));
    hub.connection.on('reconnected', () => logger.info({}, 'market hub (contracts outside CONTRACTS) reconnected'));
    this.hub = hub;
    return hub;
  }
}
