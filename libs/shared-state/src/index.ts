export {
  PRICE_SCALE,
  MONEY_SCALE,
  FixedPointError,
  assertSafeInt,
  priceToUnits,
  unitsToPrice,
  moneyToUnits,
  unitsToMoney,
  parseDecimalToUnits,
} from './fixed';
export { SharedStateError, type SharedStateErrorCode } from './errors';
export {
  LAYOUT_DIAGRAM,
  LAYOUT_VERSION,
  MAGIC,
  DEFAULT_LAYOUT_OPTIONS,
  ID_MAX_BYTES,
  RATE_BUCKETS,
  computeLayout,
  describeLayout,
  resolveLayoutOptions,
  type Layout,
  type LayoutOptions,
  type RegionLayout,
  type RegionName,
} from './layout';
export { DEFAULT_SEQLOCK_READ_OPTIONS, SeqlockReader, seqWriteBegin, seqWriteEnd, type SeqlockReadOptions } from './seqlock';
export { ContractDirectory, type ContractSpec } from './directory';
export { Marks, newMark, type Mark } from './marks';
export {
  Accounts,
  AccountState,
  newAccountRecord,
  newPositionRecord,
  type AccountRecord,
  type AccountStateCode,
  type PositionRecord,
} from './accounts';
export { Reservations, Side, type SideCode } from './reservations';
export {
  Held,
  LEDGER_ENTRY,
  LEDGER_HEADER,
  LEDGER_MAGIC,
  LEDGER_ORDER,
  LEDGER_VERSION,
  ReservationLedger,
  allocateLedger,
  attachLedger,
  type HeldBits,
  type LedgerBuffers,
  type LedgerClaim,
  type LedgerHold,
} from './ledger';
export { RateBudget, DEFAULT_RATE_BUCKETS, ORDER_RATE_WINDOW_MS, type RateBucket, type RateBucketConfig } from './rate';
export {
  CLOSE_LEASE_TTL_MS,
  CloseLeasePhase,
  CloseLeases,
  type CloseClaim,
  type CloseLease,
  type CloseLeaseView,
} from './closes';
export { SharedState, allocateSharedState, attachSharedState, type AttachOptions, type SharedStateBuffers } from './shared-state';
