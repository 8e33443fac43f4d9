// Public door of @gateway/topstepx: the only code that knows the ProjectX Gateway's wire format.
export * from './enums';
export * from './types';
export * from './errors';
export * from './rate-gate';
export { GatewayRestClient, resolveOrderByTag, NOOP_LOGGER } from './rest-client';
export type { CallOptions, GatewayRestClientOptions, Logger } from './rest-client';
export { HubConnection, MarketHubClient, UserHubClient, redactUrl } from './hub-client';
export type {
  HubConnectionOptions,
  HubLifecycleEvent,
  HubState,
  MarketHubClientOptions,
  QuoteHandler,
  MarketTradeHandler,
  DepthHandler,
  UserEventHandler,
} from './hub-client';
