// Wire types of the ProjectX Gateway API (topstepx-api.md §3–§9). Field names are exactly the wire
// names. Prices and money are JSON numbers as the Gateway sends them (decimals with 9 places);
// callers convert to fixed-point (PRICE_SCALE 1e9, MONEY_SCALE 1e4) at their own boundary.
// Timestamps are ISO-8601 strings with an offset.
import type {
  AggregateBarUnit,
  DomType,
  OrderSide,
  OrderStatus,
  OrderType,
  PositionType,
  TradeLogType,
} from './enums';

/** The envelope every REST response carries (§4). */
export interface GatewayEnvelope {
  success: boolean;
  errorCode: number;
  errorMessage: string | null;
}

// ---- Auth (§3) ----
export interface LoginKeyRequest {
  userName: string;
  apiKey: string;
}
export interface LoginKeyResponse extends GatewayEnvelope {
  token: string | null;
}
export interface ValidateResponse extends GatewayEnvelope {
  newToken: string | null;
}

// ---- Accounts (§5.1) ----
export interface AccountSearchRequest {
  onlyActiveAccounts: boolean;
}
export interface Account {
  id: number;
  name: string;
  balance: number;
  canTrade: boolean;
  isVisible: boolean;
  simulated: boolean;
}
export interface AccountSearchResponse extends GatewayEnvelope {
  accounts?: Account[] | null;
}

// ---- Contracts (§5.2) ----
export interface Contract {
  id: string;
  name: string;
  description: string;
  tickSize: number;
  tickValue: number;
  activeContract: boolean;
  symbolId: string;
}
export interface ContractSearchRequest {
  searchText: string;
  live: boolean;
}
export interface ContractSearchByIdRequest {
  contractId: string;
}
export interface ContractAvailableRequest {
  live: boolean;
}
export interface ContractListResponse extends GatewayEnvelope {
  contracts?: Contract[] | null;
}
export interface ContractByIdResponse extends GatewayEnvelope {
  contract?: Contract | null;
}

// ---- History (§5.3) ----
export interface RetrieveBarsRequest {
  contractId: string;
  live: boolean;
  startTime: string;
  endTime: string;
  unit: AggregateBarUnit;
  unitNumber: number;
  limit: number;
  includePartialBar: boolean;
}
export interface Bar {
  /** Bar open time, ISO-8601. */
  t: string;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  /** Swagger-only, undocumented. */
  d?: string;
  /** Swagger-only, undocumented. */
  k?: number;
}
export interface RetrieveBarsResponse extends GatewayEnvelope {
  bars?: Bar[] | null;
}

// ---- Orders (§5.4–§5.6) ----
export interface BracketSpec {
  /** Signed relative to entry: long SL < 0, TP > 0; short SL > 0, TP < 0. */
  ticks: number;
  type: OrderType;
}
export interface PlaceOrderRequest {
  accountId: number;
  contractId: string;
  type: OrderType;
  side: OrderSide;
  size: number;
  limitPrice?: number | null;
  stopPrice?: number | null;
  /** An absolute price level on write (a distance on read-back). */
  trailPrice?: number | null;
  /** Unique per account, rejected orders included: the only idempotency handle. */
  customTag?: string | null;
  stopLossBracket?: BracketSpec | null;
  takeProfitBracket?: BracketSpec | null;
  /** Early-2025 docs only; acceptance unconfirmed. */
  linkedOrderId?: number | null;
}
export interface PlaceOrderResponse extends GatewayEnvelope {
  /** May be a real id even when success is false: never infer success from it. */
  orderId: number | null;
}
export interface ModifyOrderRequest {
  accountId: number;
  orderId: number;
  size?: number | null;
  limitPrice?: number | null;
  stopPrice?: number | null;
  trailPrice?: number | null;
}
export interface CancelOrderRequest {
  accountId: number;
  orderId: number;
}
export interface OrderSearchRequest {
  accountId: number;
  startTimestamp: string;
  endTimestamp?: string | null;
}
export interface OrderSearchOpenRequest {
  accountId: number;
}
export interface OrderSearchByIdRequest {
  accountId: number;
  orderId: number;
}
export interface OrderQueryFilter {
  accountId: number;
  statuses?: OrderStatus[] | null;
  contractId?: string | null;
  createdAfter?: string | null;
  createdBefore?: string | null;
}
export interface OrderQueryRequest {
  filter: OrderQueryFilter;
  pageSize?: number | null;
  /** Rows to skip (this client's reading; the Swagger does not say rows vs pages). */
  pageOffset?: number | null;
  /** 0 CreatedAt, 1 Id. */
  sortBy?: number | null;
  /** 0 Asc, 1 Desc. */
  sortDirection?: number | null;
  includeTotalCount?: boolean | null;
}
export interface Order {
  id: number;
  accountId: number;
  contractId: string;
  symbolId: string;
  creationTimestamp: string;
  updateTimestamp: string | null;
  status: OrderStatus;
  type: OrderType;
  side: OrderSide;
  size: number;
  limitPrice?: number | null;
  stopPrice?: number | null;
  fillVolume: number;
  /** Average fill price. */
  filledPrice?: number | null;
  customTag?: string | null;
  trailDistance?: number | null;
  /** On read-back: the trail distance in price units, not the submitted level. */
  trailPrice?: number | null;
  parentOrderId?: number | null;
  linkedOrderId?: number | null;
}
export interface OrderListResponse extends GatewayEnvelope {
  orders?: Order[] | null;
}
export interface OrderByIdResponse extends GatewayEnvelope {
  order?: Order | null;
}
export interface OrderQueryResponse extends GatewayEnvelope {
  orders?: Order[] | null;
  totalCount?: number | null;
}

// ---- Positions (§5.7) ----
export interface PositionSearchOpenRequest {
  accountId: number;
}
export interface CloseContractRequest {
  accountId: number;
  contractId: string;
}
export interface PartialCloseContractRequest {
  accountId: number;
  contractId: string;
  size: number;
}
export interface Position {
  id: number;
  accountId: number;
  contractId: string;
  contractDisplayName?: string | null;
  creationTimestamp: string;
  type: PositionType;
  /** Always positive; direction is in `type`. */
  size: number;
  averagePrice: number;
}
export interface PositionListResponse extends GatewayEnvelope {
  positions?: Position[] | null;
}

// ---- Trades (§5.8) ----
export interface TradeSearchRequest {
  accountId: number;
  startTimestamp: string;
  endTimestamp?: string | null;
}
export interface Trade {
  id: number;
  accountId: number;
  contractId: string;
  creationTimestamp: string;
  price: number;
  /** null on opening half-turns; gross of fees on closing fills. */
  profitAndLoss: number | null;
  fees: number;
  commissions?: number | null;
  side: OrderSide;
  size: number;
  voided: boolean;
  orderId: number;
}
export interface TradeListResponse extends GatewayEnvelope {
  trades?: Trade[] | null;
}

// ---- Hub events (§9.4) ----
export interface GatewayUserAccount {
  id: number;
  name: string;
  balance: number;
  canTrade: boolean;
  isVisible: boolean;
  simulated: boolean;
}
export interface GatewayUserOrder {
  id: number;
  accountId: number;
  contractId: string;
  symbolId: string;
  creationTimestamp: string;
  updateTimestamp: string | null;
  status: OrderStatus;
  type: OrderType;
  side: OrderSide;
  size: number;
  limitPrice?: number | null;
  stopPrice?: number | null;
  fillVolume: number;
  filledPrice?: number | null;
  customTag?: string | null;
}
export interface GatewayUserPosition {
  id: number;
  accountId: number;
  contractId: string;
  creationTimestamp: string;
  type: PositionType;
  size: number;
  averagePrice: number;
}
export interface GatewayUserTrade {
  id: number;
  accountId: number;
  contractId: string;
  creationTimestamp: string;
  price: number;
  profitAndLoss?: number | null;
  fees: number;
  side: OrderSide;
  size: number;
  voided: boolean;
  orderId: number;
}
/** A sparse update: only changed fields are present; a missing field is "unchanged", never zero. */
export interface GatewayQuote {
  symbol?: string;
  symbolName?: string;
  lastPrice?: number;
  bestBid?: number;
  bestAsk?: number;
  change?: number;
  changePercent?: number;
  open?: number;
  high?: number;
  low?: number;
  volume?: number;
  lastUpdated?: string;
  timestamp?: string;
}
export interface GatewayTrade {
  symbolId: string;
  price: number;
  timestamp: string;
  /** Aggressor side. */
  type: TradeLogType;
  volume: number;
}
export interface GatewayDepth {
  timestamp: string;
  type: DomType;
  price: number;
  volume: number;
  currentVolume: number;
}

/** Hub method names (§9.3). */
export const HubMethods = {
  SubscribeAccounts: 'SubscribeAccounts',
  SubscribeOrders: 'SubscribeOrders',
  SubscribePositions: 'SubscribePositions',
  SubscribeTrades: 'SubscribeTrades',
  SubscribeContractQuotes: 'SubscribeContractQuotes',
  SubscribeContractTrades: 'SubscribeContractTrades',
  SubscribeContractMarketDepth: 'SubscribeContractMarketDepth',
} as const;

/** Hub event targets (§9.4). */
export const HubEvents = {
  GatewayUserAccount: 'GatewayUserAccount',
  GatewayUserOrder: 'GatewayUserOrder',
  GatewayUserPosition: 'GatewayUserPosition',
  GatewayUserTrade: 'GatewayUserTrade',
  GatewayQuote: 'GatewayQuote',
  GatewayTrade: 'GatewayTrade',
  GatewayDepth: 'GatewayDepth',
} as const;
