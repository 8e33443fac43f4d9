// Risk limits, configured per account. The Gateway API returns none of these values (Account has six
// fields, topstepx-api.md §11): they are configuration, parsed once at the edge into a frozen object.
//
// Units: money in 1e-4 USD (MONEY_SCALE), position in weighted units (MINI_WEIGHT per mini contract,
// see weightedUnits in gate.ts), times as minutes of the Chicago day, durations in ms.
import { TOPSTEP_CLOSE_MINUTE_CT } from '@gateway/session';
import { MONEY_SCALE } from './money';

/** Position units one mini (or any contract when micro weighting is off) counts for. */
export const MINI_WEIGHT = 10;
/** Position units one micro counts for when the account weights micros (10 micros = 1 mini). */
export const MICRO_WEIGHT = 1;

export interface RiskLimits {
  /** The account's starting balance; the MLL floor stops trailing when it reaches it. */
  readonly startingBalanceUnits: number;
  /** Maximum Loss Limit drawdown: the floor trails the end-of-day balance high by this. 0 = off. */
  readonly maxLossDrawdownUnits: number;
  /** Daily Loss Limit on day net P&L (realised + unrealised, net of fees). 0 = off. */
  readonly dailyLossLimitUnits: number;
  /** Maximum absolute position in weighted units (contracts × MINI_WEIGHT for minis). */
  readonly maxPositionUnits: number;
  /** Count a micro as 1/10 of a mini (TopstepX Combine and XFA); false counts micros as full lots. */
  readonly microWeighting: boolean;
  /** Maximum working orders on the account at once. */
  readonly maxOpenOrders: number;
  /** Maximum orders placed in any 60 s window. */
  readonly maxOrdersPerMinute: number;
  /** Chicago minute of day from which no new positions may be opened (15:10 CT = 910). */
  readonly noNewPositionsFromMinuteCt: number;
  /** Auto-flatten this many minutes before `noNewPositionsFromMinuteCt` (2 → 15:08 CT). */
  readonly flattenMinutesBeforeClose: number;
  /** Share of a loss limit used (counting working stops) at which the account goes REDUCING, 0 < x ≤ 1. */
  readonly reduceAt: number;
  /** While HALTED or flattening with positions or orders left, repeat the enforcement actions this often. */
  readonly enforceRetryMs: number;
  /**
   * The MLL floor as the trader read it on the Topstep dashboard (`RISK_MLL_FLOOR`); 0 = not given. The machine's
   * floor is raised to it, never lowered by it: for the days the engine did not see close (first start, a lost
   * DATA_DIR, days stopped). 0, or between startingBalance − drawdown and startingBalance.
   */
  readonly knownMllFloorUnits: number;
}

const usd = (dollars: number): number => dollars * MONEY_SCALE;

/**
 * Topstep 50K Trading Combine on TopstepX (verify current values: Topstep changes its rules).
 * - MLL $2,000: floor starts at $48,000, trails the end-of-day balance high, stops at $50,000.
 *   help.topstep.com/en/articles/8284204-what-is-the-maximum-loss-limit (amounts: third-party, unconfirmed)
 * - DLL $1,000 (legacy, 2 % of start). TopstepX accounts created from 2024-08-25 have no DLL but an
 *   optional Personal DLL: set 0 to turn it off, or the trader's personal value.
 *   help.topstep.com/en/articles/9772296-topstepx-fixed-personal-daily-loss-limit
 * - Max position 5 lots = 50 micros with 10 micros = 1 mini.
 *   intercom.help/topstep-llc/en/articles/9221977-topstepx-micros-and-minis
 * - Flat by 15:10 CT; Topstep flattens at about 15:08 CT (Prohibited-Conduct page; trade-desk blog).
 * - Max open orders 20, 60 orders per minute: our own runaway guards, not Topstep rules; the broker's
 *   bucket is 200 requests / 60 s for all endpoints together (§8).
 * - reduceAt 0.8: our own early warning, 80 % of a loss limit used.
 */
export const COMBINE_50K: RiskLimits = Object.freeze({
  startingBalanceUnits: usd(50_000),
  maxLossDrawdownUnits: usd(2_000),
  dailyLossLimitUnits: usd(1_000),
  maxPositionUnits: 5 * MINI_WEIGHT,
  microWeighting: true,
  maxOpenOrders: 20,
  maxOrdersPerMinute: 60,
  noNewPositionsFromMinuteCt: TOPSTEP_CLOSE_MINUTE_CT,
  flattenMinutesBeforeClose: 2,
  reduceAt: 0.8,
  enforceRetryMs: 2_000,
  knownMllFloorUnits: 0,
});

/** 100K Combine: MLL $3,000, DLL $2,000 (legacy), 10 lots / 100 micros. Amounts: third-party, unconfirmed. */
export const COMBINE_100K: RiskLimits = Object.freeze({
  ...COMBINE_50K,
  startingBalanceUnits: usd(100_000),
  maxLossDrawdownUnits: usd(3_000),
  dailyLossLimitUnits: usd(2_000),
  maxPositionUnits: 10 * MINI_WEIGHT,
});

/** 150K Combine: MLL $4,500, DLL $3,000 (legacy), 15 lots / 150 micros. Amounts: third-party, unconfirmed. */
export const COMBINE_150K: RiskLimits = Object.freeze({
  ...COMBINE_50K,
  startingBalanceUnits: usd(150_000),
  maxLossDrawdownUnits: usd(4_500),
  dailyLossLimitUnits: usd(3_000),
  maxPositionUnits: 15 * MINI_WEIGHT,
});

export const RISK_PRESETS: Readonly<Record<'50K' | '100K' | '150K', RiskLimits>> = Object.freeze({
  '50K': COMBINE_50K,
  '100K': COMBINE_100K,
  '150K': COMBINE_150K,
});

/** A bad risk configuration; `field` names the offending key. */
export class RiskConfigError extends Error {
  readonly code = 'INVALID_RISK_LIMITS';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'RiskConfigError';
  }
}

/** The Chicago minute of day at which the automatic flatten runs (15:08 CT by default). */
export function flattenMinuteCt(limits: RiskLimits): number {
  return limits.noNewPositionsFromMinuteCt - limits.flattenMinutesBeforeClose;
}

type IntRule = { min: number; max: number };
const INT_FIELDS: Record<Exclude<keyof RiskLimits, 'microWeighting' | 'reduceAt'>, IntRule> = {
  startingBalanceUnits: { min: 1, max: Number.MAX_SAFE_INTEGER },
  maxLossDrawdownUnits: { min: 0, max: Number.MAX_SAFE_INTEGER },
  dailyLossLimitUnits: { min: 0, max: Number.MAX_SAFE_INTEGER },
  maxPositionUnits: { min: 0, max: 1_000_000 },
  maxOpenOrders: { min: 0, max: 1_000_000 },
  maxOrdersPerMinute: { min: 0, max: 1_000_000 },
  noNewPositionsFromMinuteCt: { min: 0, max: 24 * 60 - 1 },
  flattenMinutesBeforeClose: { min: 0, max: 24 * 60 - 1 },
  enforceRetryMs: { min: 1, max: 3_600_000 },
  knownMllFloorUnits: { min: 0, max: Number.MAX_SAFE_INTEGER },
};

/**
 * Parses per-account limits: `{ preset?: '50K' | '100K' | '150K', ...overrides }`. Unknown keys, wrong
 * types and out-of-range values throw a RiskConfigError naming the field. Returns a frozen object.
 */
export function parseRiskLimits(input: unknown): RiskLimits {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new RiskConfigError('riskLimits', 'must be an object');
  }
  const obj = input as Record<string, unknown>;
  let base: RiskLimits = COMBINE_50K;
  if (obj['preset'] !== undefined) {
    const preset = obj['preset'];
    if (preset !== '50K' && preset !== '100K' && preset !== '150K') {
      throw new RiskConfigError('preset', `must be one of 50K, 100K, 150K, got ${JSON.stringify(preset)}`);
    }
    base = RISK_PRESETS[preset];
  }
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(obj)) {
    if (key === 'preset') continue;
    if (key === 'microWeighting') {
      if (typeof value !== 'boolean') throw new RiskConfigError(key, `must be a boolean, got ${JSON.stringify(value)}`);
      out[key] = value;
    } else if (key === 'reduceAt') {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 1) {
        throw new RiskConfigError(key, `must be a number in (0, 1], got ${JSON.stringify(value)}`);
      }
      out[key] = value;
    } else if (key in INT_FIELDS) {
      const rule = INT_FIELDS[key as keyof typeof INT_FIELDS];
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < rule.min || value > rule.max) {
        throw new RiskConfigError(key, `must be an integer in [${rule.min}, ${rule.max}], got ${JSON.stringify(value)}`);
      }
      out[key] = value;
    } else {
      throw new RiskConfigError(key, 'unknown risk limit');
    }
  }
  const limits = out as unknown as RiskLimits;
  if (limits.flattenMinutesBeforeClose > limits.noNewPositionsFromMinuteCt) {
    throw new RiskConfigError('flattenMinutesBeforeClose', 'must not be larger than noNewPositionsFromMinuteCt');
  }
  if (limits.maxLossDrawdownUnits > limits.startingBalanceUnits) {
    throw new RiskConfigError('maxLossDrawdownUnits', 'must not exceed startingBalanceUnits');
  }
  const lowest = limits.startingBalanceUnits - limits.maxLossDrawdownUnits;
  if (limits.knownMllFloorUnits !== 0 && (limits.knownMllFloorUnits < lowest || limits.knownMllFloorUnits > limits.startingBalanceUnits)) {
    // The floor starts at startingBalance − drawdown and locks at startingBalance: anything else is a typo.
    throw new RiskConfigError('knownMllFloorUnits', `must be 0 (not given) or between ${lowest} and ${limits.startingBalanceUnits} (startingBalance − drawdown … startingBalance)`);
  }
  return Object.freeze(limits);
}
