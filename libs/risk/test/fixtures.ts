// Shared fixtures for the risk specs: contract specs in fixed-point units, a CT wall-clock helper, and the
// baseline gate and state-machine inputs that the specs vary.
import { chicagoToEpoch } from '@gateway/session';
import type { GateInput } from '../src/gate';
import type { ContractSpec } from '../src/position';
import type { RiskInputs } from '../src/state-machine';

/** Price units (1e-9) of a decimal price given as a string, exact. */
export function px(price: string): number {
  const [whole, frac = ''] = price.split('.');
  const neg = whole!.startsWith('-');
  const units = BigInt(whole!.replace('-', '')) * 1_000_000_000n + BigInt((frac + '000000000').slice(0, 9));
  return Number(neg ? -units : units);
}

/** Money units (1e-4 USD) of a dollar amount given as a string, exact. */
export function usd(amount: string): number {
  const [whole, frac = ''] = amount.split('.');
  const neg = whole!.startsWith('-');
  const units = BigInt(whole!.replace('-', '')) * 10_000n + BigInt((frac + '0000').slice(0, 4));
  return Number(neg ? -units : units);
}

export const MNQ: ContractSpec = { contractId: 'CON.F.US.MNQ.H26', tickSizeUnits: px('0.25'), tickValueMoneyUnits: usd('0.50'), isMicro: true };
export const ES: ContractSpec = { contractId: 'CON.F.US.EP.H26', tickSizeUnits: px('0.25'), tickValueMoneyUnits: usd('12.50'), isMicro: false };
export const NQ: ContractSpec = { contractId: 'CON.F.US.ENQ.H26', tickSizeUnits: px('0.25'), tickValueMoneyUnits: usd('5'), isMicro: false };
export const E6: ContractSpec = { contractId: 'CON.F.US.EU6.H26', tickSizeUnits: px('0.00005'), tickValueMoneyUnits: usd('6.25'), isMicro: false };

const SPECS = new Map([MNQ, ES, NQ, E6].map((s) => [s.contractId, s]));
export const specOf = (id: string): ContractSpec | undefined => SPECS.get(id);

/** Epoch ms of a Chicago wall-clock time. */
export const ct = (y: number, m: number, d: number, h: number, mi: number, s = 0): number => chicagoToEpoch(y, m, d, h, mi, s);

/** A gate input that allows an entry: ready, ACTIVE, in hours, well inside every limit. */
export const ALLOWED_GATE_INPUT: Readonly<GateInput> = Object.freeze({
  ready: true,
  state: 'ACTIVE',
  reasonCode: 'NONE',
  killSwitch: false,
  isReducing: false,
  staleMarketData: false,
  withinTradingHours: true,
  entryAllowedByTime: true,
  openOrders: 0,
  maxOpenOrders: 20,
  positionUnitsAfter: 10,
  maxPositionUnits: 50,
  ordersLastMinute: 0,
  maxOrdersPerMinute: 60,
});

/** State-machine inputs of a flat $50,000 account on trading day 2026-01-14, nothing open; specs spread over it. */
export const FLAT_50K_INPUTS: Readonly<RiskInputs> = Object.freeze({
  dayNetPnlUnits: 0,
  pnlDayId: 20260114,
  balanceUnits: usd('50000'),
  unrealizedUnits: 0,
  workingStopRiskUnits: 0,
  killSwitch: false,
  openContractIds: [],
  workingOrderCount: 0,
  unpricedPositions: 0,
});
