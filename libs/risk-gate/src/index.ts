// @gateway/risk-gate: the pre-trade risk gate over shared memory (ADR 0003). Pure: no I/O, no clock of its
// own; any thread builds a RiskGate over its attached SharedState and calls check()/release().
export { DEFAULT_MAX_RECORD_AGE_MS, HoldRevokedError, RiskGate, RiskGateError, type GateOrder, type GateResult, type GateAllowedResult, type GateDeniedResult, type Reservation, type RiskGateOptions } from './gate';
