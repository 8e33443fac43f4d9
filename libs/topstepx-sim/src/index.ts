// Public door of the TopStepX Gateway simulator.
export { createSimulator, readReplayCsv } from './simulator';
export type { FaultController, FaultPatch, GatewayView, Simulator, SimulatorEvents } from './simulator';
export { DEFAULT_BARS_LIMIT, DEFAULT_FAULTS, DEFAULT_FILL_EVENT_ORDER, DEFAULT_GENERAL_LIMIT, defaultAccounts, defaultContracts } from './options';
export type { AccountSpec, BracketMode, ContractSpec, FaultSettings, FillEventKind, HubOptions, MarketOptions, RateLimitSpec, SimulatorOptions } from './options';
export { MONEY_SCALE, PRICE_SCALE, formatPrice } from './fixed';
