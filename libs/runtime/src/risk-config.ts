// RISK_* configuration → the frozen per-account limits of @gateway/risk. The preset gives every default
// (libs/risk/README.md lists the 50K Combine values and their sources); each RISK_* key overrides one.
import { MINI_WEIGHT, MONEY_SCALE, parseRiskLimits, RiskConfigError, type RiskLimits } from '@gateway/risk';
import { DEFAULT_MAX_RECORD_AGE_MS } from '@gateway/risk-gate';
import { ConfigError, type RiskConfig } from './config';

const FIELD_TO_KEY: Record<string, string> = {
  startingBalanceUnits: 'RISK_STARTING_BALANCE',
  dailyLossLimitUnits: 'RISK_DLL',
  maxLossDrawdownUnits: 'RISK_MLL',
  knownMllFloorUnits: 'RISK_MLL_FLOOR',
  maxPositionUnits: 'RISK_MAX_POSITION',
  maxOpenOrders: 'RISK_MAX_OPEN_ORDERS',
  maxOrdersPerMinute: 'RISK_MAX_ORDERS_PER_MINUTE',
  reduceAt: 'RISK_REDUCE_AT',
  flattenMinutesBeforeClose: 'RISK_FLATTEN_MINUTES_BEFORE_CLOSE',
  microWeighting: 'RISK_MICROS_AS_TENTHS',
  preset: 'RISK_PRESET',
};

/** The limits of every configured account. A bad combination throws ConfigError naming the RISK_* key. */
export function limitsFromConfig(risk: RiskConfig): RiskLimits {
  const o: Record<string, unknown> = { preset: risk.preset };
  if (risk.startingBalanceUsd !== undefined) o['startingBalanceUnits'] = risk.startingBalanceUsd * MONEY_SCALE;
  if (risk.dailyLossLimitUsd !== undefined) o['dailyLossLimitUnits'] = risk.dailyLossLimitUsd * MONEY_SCALE;
  if (risk.maxLossUsd !== undefined) o['maxLossDrawdownUnits'] = risk.maxLossUsd * MONEY_SCALE;
  if (risk.mllFloorUnits !== undefined) o['knownMllFloorUnits'] = risk.mllFloorUnits;
  if (risk.maxPositionLots !== undefined) o['maxPositionUnits'] = risk.maxPositionLots * MINI_WEIGHT;
  if (risk.maxOpenOrders !== undefined) o['maxOpenOrders'] = risk.maxOpenOrders;
  if (risk.maxOrdersPerMinute !== undefined) o['maxOrdersPerMinute'] = risk.maxOrdersPerMinute;
  if (risk.reduceAt !== undefined) o['reduceAt'] = risk.reduceAt;
  if (risk.flattenMinutesBeforeClose !== undefined) o['flattenMinutesBeforeClose'] = risk.flattenMinutesBeforeClose;
  if (risk.microsAsTenths !== undefined) o['microWeighting'] = risk.microsAsTenths;
  try {
    return parseRiskLimits(o);
  } catch (err) {
    if (err instanceof RiskConfigError) throw new ConfigError(FIELD_TO_KEY[err.field] ?? err.field, err.message);
    throw err;
  }
}

/**
 * The risk clock: wall time plus the RISK_CLOCK_OFFSET_MS test hook. Every thread that judges risk
 * (the risk-manager, the executor threads' gate, the front door's pre-check) uses this one, so that
 * trading hours and day rolls agree across threads.
 */
export function riskClock(risk: RiskConfig): () => number {
  const offset = risk.clockOffsetMs;
  return offset === 0 ? Date.now : () => Date.now() + offset;
}

/** The options of a RiskGate in an engine thread, from the same RISK_* settings the risk-manager uses. */
export function riskGateOptions(risk: RiskConfig): { clock: () => number; hours: RiskLimits; microWeighting: boolean; maxRecordAgeMs: number } {
  const limits = limitsFromConfig(risk);
  // The risk-manager republishes every account record each RISK_EVAL_INTERVAL_MS: a record is stale after a few
  // missed intervals, never sooner than the gate's default (a slow timer setting must not refuse every entry).
  return { clock: riskClock(risk), hours: limits, microWeighting: limits.microWeighting, maxRecordAgeMs: Math.max(DEFAULT_MAX_RECORD_AGE_MS, 3 * risk.evalIntervalMs) };
}
