import { ORDER_TYPES, STRATEGY_NAME_PATTERN, type OrderTypeName } from './validate';

export const CUSTOM_TAG_PREFIX = 'TradingBot-v1.0-strategy-';

export interface CustomTag {
  readonly tag: string;
  readonly counter: number;
  readonly unixSeconds: number;
}

/**
 * Broker custom tags `TradingBot-v1.0-strategy-{strategy}-{orderType}-{counter}-{unixSeconds}`.
 *
 * The broker refuses a tag already used on the account, rejected orders included, and the tag is the
 * only handle to find an order whose placement outcome is unknown; so every attempt needs a fresh tag.
 *
 * Uniqueness, precisely. Two tags are equal only if they have the same counter AND the same second.
 * - Within one factory the counter strictly increases on every call, so its tags never repeat, whatever
 *   the clock does.
 * - Across restarts the executor journals the counter high-water mark (`lastCounter`) before sending
 *   the order that uses it, and the next process starts with `startCounter` = that mark + 1: the
 *   counter ranges of two runs are disjoint, so tags never repeat, whatever the clock does.
 * - If the journal is lost and a run restarts its counter, the second alone must keep tags apart: that
 *   holds only while the wall clock never returns to a second the previous run used for the same
 *   counter values. A restart that begins in a later second than the previous run's last tag and a
 *   clock that never steps back make a collision impossible; a backwards clock step (NTP correction)
 *   combined with a lost journal can collide. The broker then refuses the order (errorCode 2,
 *   "custom tag already in use") and nothing is placed twice.
 * The factory also never lets the second go backwards within a run (it keeps the largest seen), so a
 * clock step back cannot make a run's own tags look older than earlier ones.
 *
 * Not thread-safe by design: one factory per account, owned by the front door's thread.
 */
export class CustomTagFactory {
  private counter: number;
  private lastSeconds = 0;

  /** @param startCounter first counter value to use: the journalled high-water mark + 1 (0 on a fresh account). */
  constructor(startCounter: number) {
    if (!Number.isSafeInteger(startCounter) || startCounter < 0) {
      throw new RangeError(`CustomTagFactory: startCounter must be a non-negative safe integer, got ${startCounter}`);
    }
    this.counter = startCounter;
  }

  /** The last counter handed out (the high-water mark to journal); startCounter - 1 before the first call. */
  get lastCounter(): number {
    return this.counter - 1;
  }

  /** A fresh tag. `nowMs` is the injected wall clock (epoch ms). */
  next(strategy: string, orderType: OrderTypeName, nowMs: number): CustomTag {
    if (!STRATEGY_NAME_PATTERN.test(strategy) || strategy.length > 64) {
      throw new RangeError(`CustomTagFactory: invalid strategy name ${JSON.stringify(strategy.slice(0, 80))}`);
    }
    if (!(ORDER_TYPES as readonly string[]).includes(orderType)) {
      throw new RangeError(`CustomTagFactory: invalid order type ${JSON.stringify(orderType)}`);
    }
    if (!Number.isFinite(nowMs) || nowMs < 0) throw new RangeError(`CustomTagFactory: invalid clock value ${nowMs}`);
    if (!Number.isSafeInteger(this.counter)) throw new RangeError('CustomTagFactory: counter exhausted');
    const unixSeconds = Math.max(this.lastSeconds, Math.floor(nowMs / 1000));
    this.lastSeconds = unixSeconds;
    const counter = this.counter;
    this.counter += 1;
    return { tag: `${CUSTOM_TAG_PREFIX}${strategy}-${orderType}-${counter}-${unixSeconds}`, counter, unixSeconds };
  }
}

export interface ParsedCustomTag {
  readonly strategy: string;
  readonly orderType: OrderTypeName;
  readonly counter: number;
  readonly unixSeconds: number;
}

/**
 * Reads one of our tags back (reconciliation, and the restart scan for the highest counter). Parsed from
 * the right, because a strategy name may itself contain '-'. undefined for a tag that is not ours.
 */
export function parseCustomTag(tag: string): ParsedCustomTag | undefined {
  if (!tag.startsWith(CUSTOM_TAG_PREFIX)) return undefined;
  const parts = tag.slice(CUSTOM_TAG_PREFIX.length).split('-');
  if (parts.length < 4) return undefined;
  const unixText = parts.pop()!;
  const counterText = parts.pop()!;
  const orderType = parts.pop()!;
  const strategy = parts.join('-');
  if (!/^\d+$/.test(unixText) || !/^\d+$/.test(counterText)) return undefined;
  if (!(ORDER_TYPES as readonly string[]).includes(orderType) || !STRATEGY_NAME_PATTERN.test(strategy)) return undefined;
  const counter = Number(counterText);
  const unixSeconds = Number(unixText);
  if (!Number.isSafeInteger(counter) || !Number.isSafeInteger(unixSeconds)) return undefined;
  return { strategy, orderType: orderType as OrderTypeName, counter, unixSeconds };
}
