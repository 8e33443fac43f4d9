// @gateway/orders: the pure order domain. Validation of order requests, bracket ticks, broker custom
// tags, the order state machine, the one error-code → gRPC/HTTP status mapper, and the closes in flight (a
// view over the shared close leases of @gateway/shared-state). No I/O, no clock.
export { PRICE_SCALE, priceToUnits, unitsToPrice } from './prices';
export type { ValidationFailure } from './validation-result';
export {
  validateOrderRequest,
  ORDER_TYPES,
  MAX_STRATEGY_NAME_LENGTH,
  MAX_CLIENT_ORDER_ID_LENGTH,
  MAX_TRAIL_TICKS,
  STRATEGY_NAME_PATTERN,
} from './validate';
export type {
  BracketLeg,
  ContractInfo,
  OrderRequestInput,
  OrderTypeName,
  ValidatedOrder,
  ValidationContext,
  ValidationResult,
} from './validate';
export { bracketTicks, MIN_BRACKET_TICKS } from './brackets';
export type { BracketField, BracketResult, Side } from './brackets';
export { CustomTagFactory, CUSTOM_TAG_PREFIX, parseCustomTag } from './custom-tag';
export type { CustomTag, ParsedCustomTag } from './custom-tag';
export {
  applyOrderEvent,
  BrokerOrderStatus,
  FINAL_ORDER_STATES,
  isFinalOrderState,
  isLegalTransition,
  mapBrokerStatus,
  newOrderRecord,
  ORDER_STATE_NUMBER,
  ORDER_STATES,
  OrderStateMachine,
} from './order-state';
export type { ApplyResult, OrderEvent, OrderRecord, OrderState } from './order-state';
export {
  GrpcStatus,
  isOrderErrorCode,
  isRiskReasonCode,
  mapErrorToStatus,
  ORDER_ERROR_CODES,
  RISK_REASON_CODES,
} from './errors';
export type { OrderErrorCode, RiskReasonCode, StatusMapping } from './errors';
export { ClosesInFlight, CLOSE_IN_FLIGHT_TTL_MS } from './closes-in-flight';
export type { CloseDecision, CloseSender, StillWorking, WireSide, WorkingOrderView } from './closes-in-flight';
