// Simulator configuration: every default is declared here, next to its field.
import { moneyUnits, priceUnits } from './fixed';

export type BracketMode = 'autoOco' | 'position';

export interface AccountSpec {
  id: number;
  name: string;
  /** Starting balance in dollars. Default 50,000. */
  balance?: number;
  canTrade?: boolean;
  isVisible?: boolean;
  /** false = a live (funded) account: `Order/cancel` answers code 6 "Live accounts not supported". Default true. */
  simulated?: boolean;
  /** A copy-trade follower: `Order/cancel` answers code 6 "Follower accounts cannot cancel orders". Default false. */
  follower?: boolean;
  /** Auto OCO Brackets (bracket objects allowed) or Position Brackets (rejected). Default 'autoOco'. */
  bracketMode?: BracketMode;
}

export interface ContractSpec {
  /** e.g. `CON.F.US.MNQ.Z26` */
  id: string;
  /** e.g. `MNQZ6` */
  name: string;
  description: string;
  /** e.g. `F.US.MNQ` */
  symbolId: string;
  /** Dollars, e.g. 0.25. */
  tickSize: number;
  /** Dollars per tick per contract, e.g. 0.5. */
  tickValue: number;
  /** Fee per contract per side in dollars (charged on every fill). */
  feePerSide: number;
  /** First price of the seeded path (snapped to the tick grid). */
  startPrice: number;
  activeContract: boolean;
}

export interface RateLimitSpec {
  limit: number;
  windowMs: number;
}

export interface FaultSettings {
  /** Added latency before every REST request is handled, ms. */
  latencyMs: number;
  /** Per-endpoint latency (key `Order/place` etc.), overrides latencyMs for that endpoint. */
  latencyByEndpoint: Record<string, number>;
  /** The next N REST requests answer 429. */
  rateLimitBurst: number;
  /** The next N REST requests answer 500 (the request is not processed). */
  serverErrors: number;
  /** Probability in [0,1] that a REST request answers 500 (seeded RNG). */
  serverErrorProbability: number;
  /** The next N `Order/place` requests are processed (order created and matched) but never answered. */
  placeTimeouts: number;
  /** 'hang' keeps the socket open without a response; 'reset' destroys it. */
  placeTimeoutMode: 'hang' | 'reset';
  /** Market hub sockets stay open (pings answered) but receive no market events. */
  feedFrozen: boolean;
  /**
   * The next N user-hub events (order, trade, position or account) that a subscribed client would receive are
   * not sent, to any connection: an event lost while the socket stays up. REST state and the in-process
   * listeners (`sim.on('trade', …)`) are unaffected; an event nobody subscribed to is not counted.
   */
  userEventsDropped: number;
  /**
   * Every REST request is processed at once (an order is created and matched, its user-hub events go out) but its
   * HTTP answer is held back this long, ms: the hub events of an order then reach the client before its orderId.
   */
  answerDelayMs: number;
  /** Per-endpoint answer delay (key `Order/place` etc.), overrides answerDelayMs for that endpoint. */
  answerDelayByEndpoint: Record<string, number>;
  /**
   * A new order (`Order/place`, and the market order of `closeContract` / `partialCloseContract`) rests Open
   * (status 1, no fill) for this long, ms, before it is matched against the market as it stands then: a market
   * order fills after its REST answer, as on an exchange. A cancel in the meantime wins; a modify does not match it
   * early. 0 = matched on arrival.
   */
  fillDelayMs: number;
  /**
   * The order in which one fill's events are published (user hub and in-process listeners): a permutation of
   * `order`, `trade`, `position`, `account`. null = the default `trade, position, account, order`.
   */
  fillEventOrder: FillEventKind[] | null;
  /**
   * User-hub events leave one per WebSocket message, this many ms apart, in the order they were produced (0 = the
   * events of one event-loop turn leave together right after it).
   */
  userEventGapMs: number;
}

/** The events one fill produces, in the order `fillEventOrder` names them. */
export type FillEventKind = 'order' | 'trade' | 'position' | 'account';

export const DEFAULT_FILL_EVENT_ORDER: readonly FillEventKind[] = ['trade', 'position', 'account', 'order'];

export interface MarketOptions {
  /** Generated trades per second per contract (0 = no random walk; use setPrice). Default 2. */
  tradesPerSecond?: number;
  /** Timer period of the generator, ms: trades of one period are batched. Default 50. */
  tickIntervalMs?: number;
  /** Probability that a trade moves the bid/ask one tick. Default 0.3. */
  moveProbability?: number;
  /** 'array': one GatewayTrade invocation carries an array of trades per contract and timer tick; 'single': one per trade. Default 'array'. */
  tradeBatching?: 'array' | 'single';
  /**
   * Put a `null` entry first in every GatewayTrade / GatewayDepth array, as the Gateway may (topstepx-api.md
   * §9.4: clients skip null entries). Default false.
   */
  nullEntries?: boolean;
  /** CSV text of trades `timestamp,contractId,price,volume,side` replayed instead of the random walk. */
  replayCsv?: string;
  /** Replay speed multiplier against the CSV timestamps (0 = as fast as the timer allows). Default 1. */
  replaySpeed?: number;
  /** Days of seeded minute-bar history before the simulator started. Default 5. */
  historyDays?: number;
  /** Seconds of 1-second bars kept for the live path (ring buffer). Default 14,400 (4 h). */
  secondBarWindow?: number;
}

export interface HubOptions {
  /** Server ping period, ms. Default 15,000. */
  pingIntervalMs?: number;
  /** Close a connection that sent nothing for this long, ms. Default 30,000. */
  clientTimeoutMs?: number;
  /** Send user-hub events wrapped as `{ action, data }` instead of the bare entity. Default false. */
  wrapUserEvents?: boolean;
}

export interface SimulatorOptions {
  /** TCP port on 127.0.0.1. Default 0 (an ephemeral port). */
  port?: number;
  /** Loopback host to bind. Default '127.0.0.1'. */
  host?: string;
  /** Accepted login. Default `{ userName: 'demo', apiKey: 'demo-key' }`. */
  credentials?: { userName: string; apiKey: string };
  /** Token lifetime, ms. Default 24 h. */
  tokenLifetimeMs?: number;
  /** Wall clock in epoch ms, for timestamps, token expiry, rate windows and bars. Default Date.now. */
  clock?: () => number;
  /** Seed of every random choice. Default 1. */
  seed?: number;
  /** Default: 1001 `S1-50K-DEMO` (Auto OCO), 1002 `S1-50K-DEMO-2` (Position Brackets), 1003 `LFA-50K-LIVE` (live). */
  accounts?: AccountSpec[];
  /** Default: ES, MES, NQ, MNQ, CL, GC front months (plus one expired contract each), derived from the clock. */
  contracts?: ContractSpec[];
  /** false disables both buckets. Default true. */
  rateLimits?: boolean | { bars?: RateLimitSpec; general?: RateLimitSpec };
  market?: MarketOptions;
  hub?: HubOptions;
  /** Fill every order in N chunks: the first on trigger, one more per later trade. Default 1. */
  partialFillChunks?: number;
  /** Faults active from the start. */
  faults?: Partial<FaultSettings>;
}

export const DEFAULT_BARS_LIMIT: RateLimitSpec = { limit: 50, windowMs: 30_000 };
export const DEFAULT_GENERAL_LIMIT: RateLimitSpec = { limit: 200, windowMs: 60_000 };

export function defaultAccounts(): AccountSpec[] {
  return [
    { id: 1001, name: 'S1-50K-DEMO', balance: 50_000, bracketMode: 'autoOco' },
    { id: 1002, name: 'S1-50K-DEMO-2', balance: 50_000, bracketMode: 'position' },
    { id: 1003, name: 'LFA-50K-LIVE', balance: 50_000, simulated: false, bracketMode: 'autoOco' },
  ];
}

const MONTH_CODES = 'FGHJKMNQUVXZ';
const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

interface Family {
  cme: string;
  root: string;
  title: string;
  tickSize: number;
  tickValue: number;
  fee: number;
  price: number;
  /** Listed months (0-based) and the day of the contract month before which it stays front. */
  months: number[];
  rollMonthOffset: number;
  rollDay: number;
}

const FAMILIES: Family[] = [
  { cme: 'ES', root: 'EP', title: 'E-Mini S&P 500', tickSize: 0.25, tickValue: 12.5, fee: 1.4, price: 6000, months: [2, 5, 8, 11], rollMonthOffset: 0, rollDay: 12 },
  { cme: 'MES', root: 'MES', title: 'Micro E-mini S&P 500', tickSize: 0.25, tickValue: 1.25, fee: 0.37, price: 6000, months: [2, 5, 8, 11], rollMonthOffset: 0, rollDay: 12 },
  { cme: 'NQ', root: 'ENQ', title: 'E-mini NASDAQ-100', tickSize: 0.25, tickValue: 5, fee: 1.4, price: 21000, months: [2, 5, 8, 11], rollMonthOffset: 0, rollDay: 12 },
  { cme: 'MNQ', root: 'MNQ', title: 'Micro E-mini Nasdaq-100', tickSize: 0.25, tickValue: 0.5, fee: 0.37, price: 21000, months: [2, 5, 8, 11], rollMonthOffset: 0, rollDay: 12 },
  { cme: 'CL', root: 'CLE', title: 'Crude Light', tickSize: 0.01, tickValue: 10, fee: 1.54, price: 70, months: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], rollMonthOffset: -1, rollDay: 19 },
  { cme: 'GC', root: 'GCE', title: 'Gold', tickSize: 0.1, tickValue: 10, fee: 1.54, price: 2400, months: [1, 3, 5, 7, 9, 11], rollMonthOffset: -1, rollDay: 25 },
];

/** The front listed month of a family at `nowMs` as an absolute month index (year × 12 + month). */
function frontMonth(f: Family, nowMs: number): number {
  const d = new Date(nowMs);
  const nowIdx = d.getUTCFullYear() * 12 + d.getUTCMonth();
  for (let idx = nowIdx - 1; ; idx++) {
    if (!f.months.includes(idx % 12)) continue;
    const rollIdx = idx + f.rollMonthOffset;
    if (rollIdx > nowIdx || (rollIdx === nowIdx && d.getUTCDate() < f.rollDay)) return idx;
  }
}

function contractOf(f: Family, monthIdx: number, active: boolean): ContractSpec {
  const year = Math.floor(monthIdx / 12);
  const month = monthIdx % 12;
  const code = MONTH_CODES[month]!;
  return {
    id: `CON.F.US.${f.root}.${code}${String(year % 100).padStart(2, '0')}`,
    name: `${f.cme}${code}${year % 10}`,
    description: `${f.title}: ${MONTH_NAMES[month]} ${year}`,
    symbolId: `F.US.${f.root}`,
    tickSize: f.tickSize,
    tickValue: f.tickValue,
    feePerSide: f.fee,
    startPrice: f.price,
    activeContract: active,
  };
}

/** ES, MES, NQ, MNQ, CL, GC: the front month at `nowMs` (active) and the previous listed month (expired). */
export function defaultContracts(nowMs: number): ContractSpec[] {
  const out: ContractSpec[] = [];
  for (const f of FAMILIES) {
    const front = frontMonth(f, nowMs);
    out.push(contractOf(f, front, true));
  }
  for (const f of FAMILIES) {
    const front = frontMonth(f, nowMs);
    let prev = front - 1;
    while (!f.months.includes(((prev % 12) + 12) % 12)) prev--;
    out.push(contractOf(f, prev, false));
  }
  return out;
}

/** A contract as the simulator holds it: integer units. */
export interface ContractRuntime {
  spec: ContractSpec;
  id: string;
  symbolId: string;
  /** price units */
  tick: number;
  /** money units per tick per contract */
  tickValue: number;
  /** money units per contract per side */
  fee: number;
  active: boolean;
}

export function contractRuntime(spec: ContractSpec): ContractRuntime {
  const tick = priceUnits(spec.tickSize);
  if (tick <= 0) throw new RangeError(`contract ${spec.id}: tickSize must be > 0`);
  return {
    spec,
    id: spec.id,
    symbolId: spec.symbolId,
    tick,
    tickValue: moneyUnits(spec.tickValue),
    fee: moneyUnits(spec.feePerSide),
    active: spec.activeContract,
  };
}

export const DEFAULT_FAULTS: FaultSettings = {
  latencyMs: 0,
  latencyByEndpoint: {},
  rateLimitBurst: 0,
  serverErrors: 0,
  serverErrorProbability: 0,
  placeTimeouts: 0,
  placeTimeoutMode: 'hang',
  feedFrozen: false,
  userEventsDropped: 0,
  answerDelayMs: 0,
  answerDelayByEndpoint: {},
  fillDelayMs: 0,
  fillEventOrder: null,
  userEventGapMs: 0,
};
