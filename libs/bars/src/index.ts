export * from './errors';
export * from './timeframe';
export * from './bar';
export * from './session-grid';
export * from './indicators';
export * from './cache';
export * from './aggregator';
export * from './backfill';
