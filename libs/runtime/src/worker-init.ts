// What every engine thread receives at start (workerData), for the long-lived workers and the
// executor pool alike. Structured-clonable: the shared memory travels as its SharedArrayBuffer.
import type { SharedStateBuffers } from '@gateway/shared-state';
import type { EngineConfig } from './config';

export interface BrokerEndpoints {
  apiUrl: string;
  userHubUrl: string;
  marketHubUrl: string;
  /** The session token at start; rotations arrive on the BROKER_TOKEN_CHANNEL broadcast channel. */
  token: string;
  /** True when the engine embeds the simulator (the faults admin API is then available). */
  simulated: boolean;
}

export interface ContractInfo {
  contractId: string;
  /** Root as configured (MNQ, ES). */
  root: string;
  name: string;
  symbolId: string;
  tickSizeUnits: number;
  tickValueUnits: number;
  /** A micro contract (counts as 1/10 of a mini where the account's rules say so). */
  isMicro: boolean;
  slot: number;
}

export interface AccountInfo {
  accountId: number;
  name: string;
  slot: number;
}

export interface WorkerInit {
  app: string;
  config: EngineConfig;
  shared: SharedStateBuffers;
  broker: BrokerEndpoints;
  contracts: ContractInfo[];
  accounts: AccountInfo[];
}

/** BroadcastChannel name on which the main thread publishes a rotated broker token (string). */
export const BROKER_TOKEN_CHANNEL = 'gateway:broker-token';
/** BroadcastChannel name on which executor threads answer metrics requests (piscina threads have no port of ours). */
export const EXECUTOR_METRICS_CHANNEL = 'gateway:executor-metrics';

/**
 * V8 limits for every engine thread. A worker isolate's young generation defaults to tens of MB of
 * semi-space that a low-allocation service never needs; 2 MB keeps the engine's RSS near the
 * 100 MB goal (the main thread gets the same through --max-semi-space-size=1 in `npm start`, which also caps V8's
 * helper threads at two with --v8-pool-size=2).
 * Old space stays unlimited by us: the default heap limit applies.
 */
export const THREAD_RESOURCE_LIMITS = Object.freeze({ maxYoungGenerationSizeMb: 2 });
