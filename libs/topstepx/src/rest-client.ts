// GatewayRestClient: the typed REST client of the ProjectX Gateway (topstepx-api.md §3–§8) over one
// keep-alive undici Pool. Retry rules (README "Retries and unknown outcomes"):
// - reads are retried with exponential backoff + jitter on 429 (Retry-After honoured), 5xx and
//   transport errors, bounded in attempts and in total sleep;
// - mutations (place, modify, cancel, closeContract, partialCloseContract, logout) are never retried
//   once they may have reached the server: a timeout, a connection lost after writing, a 5xx or a 429
//   is an UnknownOutcomeError, and so is an ambiguous errorCode;
// - HTTP 401 on any call: one re-login, then one retry. Safe for mutations too: a 401 is the auth
//   layer refusing the request before it is processed, so the first attempt executed nothing.
// - a call's send deadline (CallOptions.deadlineMs) holds for every write of its request: a rate-gate wait, a login
//   or a wait for a pool connection that ends past it leaves the request unwritten (SendDeadlineError).
import { Pool, type Dispatcher } from 'undici';
import { AMBIGUOUS_ERROR_CODES, errorCodeName, type Endpoint } from './enums';
import {
  AuthError,
  ClientClosedError,
  GatewayError,
  HttpStatusError,
  InconsistentResponseError,
  RateLimitedError,
  SendDeadlineError,
  TransportError,
  UnknownOutcomeError,
  redactBody,
  type RestEndpoint,
} from './errors';
import { createLocalRateGate, DEFAULT_RATE_LIMITS, RatePermitError, type RateBucket, type RateGate, type RatePermit } from './rate-gate';
import type {
  Account,
  AccountSearchResponse,
  Bar,
  CancelOrderRequest,
  CloseContractRequest,
  Contract,
  ContractByIdResponse,
  ContractListResponse,
  GatewayEnvelope,
  LoginKeyResponse,
  ModifyOrderRequest,
  Order,
  OrderByIdResponse,
  OrderListResponse,
  OrderQueryFilter,
  OrderQueryRequest,
  OrderQueryResponse,
  OrderSearchRequest,
  PartialCloseContractRequest,
  PlaceOrderRequest,
  PlaceOrderResponse,
  Position,
  PositionListResponse,
  RetrieveBarsRequest,
  RetrieveBarsResponse,
  Trade,
  TradeListResponse,
  TradeSearchRequest,
  ValidateResponse,
} from './types';

/** Minimal logger (pino-compatible: object first, message second). */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => undefined;
export const NOOP_LOGGER: Logger = { debug: noop, info: noop, warn: noop, error: noop };

export interface GatewayRestClientOptions {
  /** e.g. `https://api.topstepx.com` or `http://127.0.0.1:PORT` (a path prefix is kept). */
  baseUrl: string;
  userName: string;
  apiKey: string;
  /** Keep-alive sockets in the pool. Default 16. */
  connections?: number;
  /** Per-request timeout (headers, then body) and the cap on rate-gate waits. Default 10 000 ms. */
  requestTimeoutMs?: number;
  /** Client-side rate budget. Default: an in-process gate with the documented limits. */
  rateGate?: RateGate;
  /** Wall clock in epoch ms. Default Date.now. */
  clock?: () => number;
  /** Token refresh period through Auth/validate (tokens live 24 h). Default 1 h. */
  validateEveryMs?: number;
  /** How often the refresh timer looks at the token's age. Default 60 000 ms. */
  refreshCheckEveryMs?: number;
  /** Attempts for a read, first included. Default 5. */
  maxReadAttempts?: number;
  /** Total sleep allowed across a read's retries. Default 30 000 ms. */
  retryBudgetMs?: number;
  /** First backoff delay; doubles per attempt. Default 200 ms. */
  backoffBaseMs?: number;
  /** Backoff cap. Default 5 000 ms. */
  backoffMaxMs?: number;
  /** RNG in [0,1) for backoff jitter. Default Math.random. */
  random?: () => number;
  logger?: Logger;
}

/** Options of one call of a single-request endpoint. */
export interface CallOptions {
  /**
   * A token of this client's rate gate taken ahead for this request (RatePermit.take): the request is sent on it,
   * without asking the gate, so it never waits inside the client for a token (the caller checked its deadline after
   * its own wait). Only the first attempt spends it; a read's retry or the resend after a 401 is a request of its own
   * and takes its own token. A call refused before its send leaves it held: the caller drops it.
   */
  permit?: RatePermit;
  /**
   * Epoch ms (the client's clock) from which the request must not be written; 0 or absent = none. Checked before a
   * rate-gate wait (a wait that would end past it is not waited), after a login (the resend after an HTTP 401
   * included), and by undici itself as it assigns the request a socket, after any wait for a free keep-alive
   * connection: each refuses with SendDeadlineError, nothing written. Once the request is written it runs to the end.
   */
  deadlineMs?: number;
}

interface Spec {
  readonly endpoint: RestEndpoint;
  readonly path: string;
  readonly bucket: RateBucket;
  readonly mutation: boolean;
  readonly authenticated: boolean;
}

function spec(endpoint: RestEndpoint, mutation = false, authenticated = true): Spec {
  return {
    endpoint,
    path: `/api/${endpoint}`,
    bucket: endpoint === 'History/retrieveBars' ? 'bars' : 'general',
    mutation,
    authenticated,
  };
}

const EP = {
  loginKey: spec('Auth/loginKey', false, false),
  validate: spec('Auth/validate'),
  logout: spec('Auth/logout', true),
  accountSearch: spec('Account/search'),
  contractSearch: spec('Contract/search'),
  contractById: spec('Contract/searchById'),
  contractAvailable: spec('Contract/available'),
  bars: spec('History/retrieveBars'),
  place: spec('Order/place', true),
  modify: spec('Order/modify', true),
  cancel: spec('Order/cancel', true),
  orderSearch: spec('Order/search'),
  orderSearchOpen: spec('Order/searchOpen'),
  orderById: spec('Order/searchById'),
  orderQuery: spec('Order/v2/query'),
  positionSearchOpen: spec('Position/searchOpen'),
  closeContract: spec('Position/closeContract', true),
  partialClose: spec('Position/partialCloseContract', true),
  tradeSearch: spec('Trade/search'),
  ping: spec('Status/ping', false, false),
} as const;

/** undici/system error codes that prove the request never left this process. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function errCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  if (e && typeof e.code === 'string') return e.code;
  if (e && e.cause && typeof e.cause.code === 'string') return e.cause.code;
  return 'UNKNOWN';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function positive(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`GatewayRestClient option ${name} must be a positive number, got ${v}`);
  return v;
}

/** `null` and missing list fields stay absent (`undefined`), never an empty list: absence is not "none". */
function list<T>(v: T[] | null | undefined): T[] | undefined {
  return v == null ? undefined : v;
}

/**
 * The methods undici 7 calls on pool.request's own handler (the legacy handler API, which that handler implements) for
 * a plain request; upgrades and body-progress callbacks are not used by this client. An undici whose pool.request
 * handler lacks them fails every call with a deadline (the send-deadline tests pin it).
 */
interface RequestHandlerLike {
  onConnect(abort: (err?: Error) => void, context?: unknown): void;
  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(trailers: string[] | null): void;
  onError(err: Error): void;
}

/** pool.request options with the call's send deadline (0 = none), read by SendDeadlinePool.dispatch. */
interface DeadlineRequestOptions extends Dispatcher.RequestOptions {
  sendDeadlineMs: number;
}

/**
 * Raised into undici by SendDeadlineHandler. `firstWrite`: the request had never been assigned a socket, so not a
 * byte of it was written (call() answers SendDeadlineError). undici assigns a request again only to re-send one
 * already written (a pipeline's failed head; never a POST with pipelining 1): that one may have reached the server.
 */
class SendDeadlineAbort extends Error {
  readonly code = 'SEND_DEADLINE';
  constructor(readonly firstWrite: boolean) {
    super('the send deadline passed as the request was assigned a socket');
    this.name = 'SendDeadlineAbort';
  }
}

/**
 * Wraps the handler of a request with a send deadline. undici calls `onConnect(abort)` on the request's turn on a
 * socket, synchronously right before it builds the request head and writes it (client-h1.js writeH1), after any wait
 * in the pool's queue for a free keep-alive connection and any connect: the last moment to refuse. Aborting there
 * errors the request and destroys that socket before a byte is written (the pool connects again for the next
 * request; test "dropped as undici assigns them a socket" reads the bytes a server received). The rest passes through.
 */
class SendDeadlineHandler implements RequestHandlerLike {
  private assigned = false;

  constructor(
    private readonly inner: RequestHandlerLike,
    private readonly deadlineMs: number,
    private readonly clock: () => number,
  ) {}

  onConnect(abort: (err?: Error) => void, context?: unknown): void {
    if (this.clock() >= this.deadlineMs) {
      abort(new SendDeadlineAbort(!this.assigned));
      return;
    }
    this.assigned = true;
    this.inner.onConnect(abort, context);
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    return this.inner.onHeaders(statusCode, headers, resume, statusText);
  }

  onData(chunk: Buffer): boolean {
    return this.inner.onData(chunk);
  }

  onComplete(trailers: string[] | null): void {
    this.inner.onComplete(trailers);
  }

  onError(err: Error): void {
    this.inner.onError(err);
  }
}

/**
 * The client's pool: a request carrying a send deadline gets a SendDeadlineHandler; any other goes through as is. A
 * subclass rather than `compose` with an interceptor: a composed dispatcher is a Proxy and wraps and unwraps every
 * request's handler (new handler API), three objects per request on the hot path; this costs one, for deadlines only.
 */
class SendDeadlinePool extends Pool {
  constructor(
    origin: string,
    options: Pool.Options,
    private readonly deadlineClock: () => number,
  ) {
    super(origin, options);
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const deadlineMs = (opts as Partial<DeadlineRequestOptions>).sendDeadlineMs;
    if (deadlineMs === undefined || deadlineMs <= 0) return super.dispatch(opts, handler);
    return super.dispatch(opts, new SendDeadlineHandler(handler as RequestHandlerLike, deadlineMs, this.deadlineClock) as Dispatcher.DispatchHandler);
  }
}

type TokenListener = (token: string) => void;

export class GatewayRestClient {
  private readonly pool: SendDeadlinePool;
  private readonly basePath: string;
  private readonly loginBody: string;
  private readonly requestTimeoutMs: number;
  private readonly gate: RateGate;
  private readonly clock: () => number;
  private readonly validateEveryMs: number;
  private readonly refreshCheckEveryMs: number;
  private readonly maxReadAttempts: number;
  private readonly retryBudgetMs: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly random: () => number;
  private readonly log: Logger;
  private readonly apiKey: string;

  private currentToken: string | undefined;
  private tokenIssuedAt = 0;
  /** Precomputed per token so the hot path builds no header object. */
  private authHeaders: Record<string, string> = {};
  private static readonly publicHeaders: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  private loginInFlight: Promise<string> | undefined;
  private refreshInFlight: Promise<void> | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly tokenListeners = new Set<TokenListener>();
  private closed = false;

  constructor(options: GatewayRestClientOptions) {
    if (!options || typeof options.baseUrl !== 'string') throw new TypeError('GatewayRestClient option baseUrl is required');
    if (typeof options.userName !== 'string' || options.userName === '') throw new TypeError('GatewayRestClient option userName is required');
    if (typeof options.apiKey !== 'string' || options.apiKey === '') throw new TypeError('GatewayRestClient option apiKey is required');
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new TypeError(`GatewayRestClient option baseUrl is not a URL: ${options.baseUrl}`);
    }
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.requestTimeoutMs = positive('requestTimeoutMs', options.requestTimeoutMs, 10_000);
    const connections = positive('connections', options.connections, 16);
    this.clock = options.clock ?? Date.now;
    this.pool = new SendDeadlinePool(
      url.origin,
      {
        connections,
        pipelining: 1,
        headersTimeout: this.requestTimeoutMs,
        bodyTimeout: this.requestTimeoutMs,
        connectTimeout: this.requestTimeoutMs,
      },
      this.clock,
    );
    this.apiKey = options.apiKey;
    this.loginBody = JSON.stringify({ userName: options.userName, apiKey: options.apiKey });
    this.gate = options.rateGate ?? createLocalRateGate(DEFAULT_RATE_LIMITS);
    this.validateEveryMs = positive('validateEveryMs', options.validateEveryMs, 3_600_000);
    this.refreshCheckEveryMs = positive('refreshCheckEveryMs', options.refreshCheckEveryMs, 60_000);
    this.maxReadAttempts = Math.floor(positive('maxReadAttempts', options.maxReadAttempts, 5));
    this.retryBudgetMs = positive('retryBudgetMs', options.retryBudgetMs, 30_000);
    this.backoffBaseMs = positive('backoffBaseMs', options.backoffBaseMs, 200);
    this.backoffMaxMs = positive('backoffMaxMs', options.backoffMaxMs, 5_000);
    this.random = options.random ?? Math.random;
    this.log = options.logger ?? NOOP_LOGGER;
  }

  /** The current session token (undefined before login). Hand it to hub clients; never log it. */
  get token(): string | undefined {
    return this.currentToken;
  }

  /** Called with the new token after every login or validate swap; returns an unsubscribe function. */
  onTokenChange(listener: TokenListener): () => void {
    this.tokenListeners.add(listener);
    return () => this.tokenListeners.delete(listener);
  }

  /** Logs in with Auth/loginKey (concurrent callers share one request) and starts the refresh timer. */
  login(): Promise<string> {
    if (this.closed) return Promise.reject(new ClientClosedError('Auth/loginKey'));
    if (!this.loginInFlight) {
      this.loginInFlight = this.doLogin().finally(() => {
        this.loginInFlight = undefined;
      });
    }
    return this.loginInFlight;
  }

  private async doLogin(): Promise<string> {
    const res = await this.call<LoginKeyResponse>(EP.loginKey, this.loginBody);
    if (typeof res.token !== 'string' || res.token === '') {
      throw new AuthError('Auth/loginKey', 'success without a token');
    }
    this.setToken(res.token);
    this.startRefreshTimer();
    return res.token;
  }

  /**
   * Swaps the token through Auth/validate; falls back to a fresh login when validate fails. The
   * refresh timer calls this; it is public so an operator path can force it.
   */
  refreshToken(): Promise<void> {
    if (!this.refreshInFlight) {
      this.refreshInFlight = this.doRefresh().finally(() => {
        this.refreshInFlight = undefined;
      });
    }
    return this.refreshInFlight;
  }

  private async doRefresh(): Promise<void> {
    try {
      const res = await this.call<ValidateResponse>(EP.validate, '');
      if (typeof res.newToken === 'string' && res.newToken !== '') {
        this.setToken(res.newToken);
        return;
      }
      this.log.warn({ endpoint: 'Auth/validate' }, 'validate returned no newToken; logging in again');
    } catch (err) {
      if (this.closed) return;
      this.log.warn({ endpoint: 'Auth/validate', code: (err as { code?: string }).code, err: (err as Error).message }, 'token validate failed; logging in again');
    }
    await this.login();
  }

  private setToken(token: string): void {
    this.currentToken = token;
    this.tokenIssuedAt = this.clock();
    this.authHeaders = { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` };
    for (const l of this.tokenListeners) {
      try {
        l(token);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'token listener threw');
      }
    }
  }

  private startRefreshTimer(): void {
    if (this.refreshTimer || this.closed) return;
    this.refreshTimer = setInterval(() => {
      if (this.currentToken === undefined || this.refreshInFlight) return;
      if (this.clock() - this.tokenIssuedAt < this.validateEveryMs) return;
      this.refreshToken().catch((err: unknown) => {
        this.log.error({ code: (err as { code?: string }).code, err: (err as Error).message }, 'token refresh failed; will retry');
      });
    }, this.refreshCheckEveryMs);
    this.refreshTimer.unref();
  }

  /** Stops the refresh timer and closes the pool (in-flight requests finish first). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
    await this.pool.close();
  }

  // ---- endpoints ----

  async searchAccounts(onlyActiveAccounts: boolean, opts?: CallOptions): Promise<Account[] | undefined> {
    const r = await this.call<AccountSearchResponse>(EP.accountSearch, JSON.stringify({ onlyActiveAccounts }), undefined, opts?.permit, opts?.deadlineMs);
    return list(r.accounts);
  }

  async searchContracts(searchText: string, live = false, opts?: CallOptions): Promise<Contract[] | undefined> {
    const r = await this.call<ContractListResponse>(EP.contractSearch, JSON.stringify({ searchText, live }), undefined, opts?.permit, opts?.deadlineMs);
    return list(r.contracts);
  }

  async contractById(contractId: string, opts?: CallOptions): Promise<Contract | undefined> {
    const r = await this.call<ContractByIdResponse>(EP.contractById, JSON.stringify({ contractId }), undefined, opts?.permit, opts?.deadlineMs);
    return r.contract ?? undefined;
  }

  async availableContracts(live = false, opts?: CallOptions): Promise<Contract[] | undefined> {
    const r = await this.call<ContractListResponse>(EP.contractAvailable, JSON.stringify({ live }), undefined, opts?.permit, opts?.deadlineMs);
    return list(r.contracts);
  }

  async retrieveBars(req: RetrieveBarsRequest, opts?: CallOptions): Promise<Bar[] | undefined> {
    const r = await this.call<RetrieveBarsResponse>(EP.bars, JSON.stringify(req), undefined, opts?.permit, opts?.deadlineMs);
    return list(r.bars);
  }

  /**
   * Order/place, the hot path: one JSON.stringify, precomputed headers, no retry. Returns the
   * orderId. success:false → GatewayError (its orderId set when the Gateway sent one); codes 6/7 and
   * any transport doubt → UnknownOutcomeError: reconcile with `resolveOrderByTag`.
   */
  async placeOrder(req: PlaceOrderRequest, opts?: CallOptions): Promise<number> {
    const r = await this.call<PlaceOrderResponse>(EP.place, JSON.stringify(req), req.customTag ?? undefined, opts?.permit, opts?.deadlineMs);
    if (typeof r.orderId !== 'number') {
      throw new UnknownOutcomeError('Order/place', 'inconsistent-response', 'success without an orderId', { customTag: req.customTag ?? undefined });
    }
    return r.orderId;
  }

  async modifyOrder(req: ModifyOrderRequest, opts?: CallOptions): Promise<void> {
    await this.call<GatewayEnvelope>(EP.modify, JSON.stringify(req), undefined, opts?.permit, opts?.deadlineMs);
  }

  async cancelOrder(req: CancelOrderRequest, opts?: CallOptions): Promise<void> {
    await this.call<GatewayEnvelope>(EP.cancel, JSON.stringify(req), undefined, opts?.permit, opts?.deadlineMs);
  }

  async searchOrders(req: OrderSearchRequest, opts?: CallOptions): Promise<Order[] | undefined> {
    const r = await this.call<OrderListResponse>(EP.orderSearch, JSON.stringify(req), undefined, opts?.permit, opts?.deadlineMs);
    return list(r.orders);
  }

  /** Open orders only: omits Suspended bracket children (use `queryAllOrders` with statuses [1,6,7,8]). */
  async searchOpenOrders(accountId: number, opts?: CallOptions): Promise<Order[] | undefined> {
    const r = await this.call<OrderListResponse>(EP.orderSearchOpen, JSON.stringify({ accountId }), undefined, opts?.permit, opts?.deadlineMs);
    return list(r.orders);
  }

  async orderById(accountId: number, orderId: number, opts?: CallOptions): Promise<Order | undefined> {
    const r = await this.call<OrderByIdResponse>(EP.orderById, JSON.stringify({ accountId, orderId }), undefined, opts?.permit, opts?.deadlineMs);
    return r.order ?? undefined;
  }

  /** One page of Order/v2/query. */
  async queryOrders(req: OrderQueryRequest, opts?: CallOptions): Promise<{ orders: Order[] | undefined; totalCount: number | undefined }> {
    const r = await this.call<OrderQueryResponse>(EP.orderQuery, JSON.stringify(req), undefined, opts?.permit, opts?.deadlineMs);
    return { orders: list(r.orders), totalCount: r.totalCount ?? undefined };
  }

  /**
   * Every order matching `filter`, fetching pages of `pageSize` sorted by id ascending until a short
   * page. `pageOffset` is a row offset; every page after the first starts one row early, on the
   * previous page's last row. If that row is not there, rows ahead of the offset left or joined the
   * filtered set while paging (an order filled or was cancelled between two pages) and a row may have
   * slid past the offset unseen: the query starts over (at most 3 passes). Rows are de-duplicated by
   * id; if the server's totalCount says rows are missing, throws InconsistentResponseError rather
   * than return a silently partial list.
   */
  async queryAllOrders(filter: OrderQueryFilter, options: { pageSize?: number; maxPages?: number } = {}): Promise<Order[]> {
    const pageSize = Math.floor(positive('pageSize', options.pageSize, 100));
    if (pageSize < 2) throw new RangeError(`GatewayRestClient queryAllOrders pageSize must be at least 2 (pages overlap by one row), got ${pageSize}`);
    const maxPages = Math.floor(positive('maxPages', options.maxPages, 1000));
    const maxPasses = 3;
    for (let pass = 1; pass <= maxPasses; pass++) {
      const byId = new Map<number, Order>();
      let total: number | undefined;
      let lastId: number | undefined;
      let shifted = false;
      for (let page = 0; page < maxPages; page++) {
        const pageOffset = lastId === undefined ? 0 : byId.size - 1;
        const r = await this.queryOrders({ filter, pageSize, pageOffset, sortBy: 1, sortDirection: 0, includeTotalCount: true });
        if (r.totalCount !== undefined) total = r.totalCount;
        const rows = r.orders ?? [];
        if (lastId !== undefined && rows[0]?.id !== lastId) {
          shifted = true;
          break;
        }
        for (const o of rows) byId.set(o.id, o);
        if (rows.length < pageSize || (total !== undefined && byId.size >= total)) break;
        lastId = rows[rows.length - 1]!.id;
      }
      if (shifted) {
        this.log.debug({ endpoint: 'Order/v2/query', pass }, 'filtered order set changed while paging; querying again');
        continue;
      }
      if (total !== undefined && byId.size < total) {
        throw new InconsistentResponseError('Order/v2/query', 200, '', `paging stopped at ${byId.size} of totalCount ${total}`);
      }
      return [...byId.values()];
    }
    throw new InconsistentResponseError('Order/v2/query', 200, '', `the filtered order set kept changing while paging (${maxPasses} passes)`);
  }

  async searchOpenPositions(accountId: number, opts?: CallOptions): Promise<Position[] | undefined> {
    const r = await this.call<PositionListResponse>(EP.positionSearchOpen, JSON.stringify({ accountId }), undefined, opts?.permit, opts?.deadlineMs);
    return list(r.positions);
  }

  /** Flattens with a market order; leaves working stops/brackets alive (sweep them after). */
  async closeContract(req: CloseContractRequest, opts?: CallOptions): Promise<void> {
    await this.call<GatewayEnvelope>(EP.closeContract, JSON.stringify(req), undefined, opts?.permit, opts?.deadlineMs);
  }

  async partialCloseContract(req: PartialCloseContractRequest, opts?: CallOptions): Promise<void> {
    await this.call<GatewayEnvelope>(EP.partialClose, JSON.stringify(req), undefined, opts?.permit, opts?.deadlineMs);
  }

  async searchTrades(req: TradeSearchRequest, opts?: CallOptions): Promise<Trade[] | undefined> {
    const r = await this.call<TradeListResponse>(EP.tradeSearch, JSON.stringify(req), undefined, opts?.permit, opts?.deadlineMs);
    return list(r.trades);
  }

  /** Auth/logout; stops the refresh timer. A mutation: never retried. */
  async logout(): Promise<void> {
    await this.call<GatewayEnvelope>(EP.logout, '');
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
    this.currentToken = undefined;
  }

  /** GET /api/Status/ping (unauthenticated); resolves with the body (`pong`). */
  async ping(): Promise<string> {
    return this.call<string>(EP.ping, undefined);
  }

  // ---- the request engine ----

  /**
   * The gate said wait `firstWait` ms: sleep and ask again, for at most `requestTimeoutMs` in total, and never for a
   * token that would come at or past the send deadline (`deadlineMs`, 0 = none).
   */
  private async acquireSlow(s: Spec, firstWait: number, deadlineMs: number): Promise<void> {
    let waited = 0;
    let wait = firstWait;
    while (wait > 0) {
      if (deadlineMs > 0 && this.clock() + wait >= deadlineMs) throw new SendDeadlineError(s.endpoint, 'rate-budget');
      if (waited + wait > this.requestTimeoutMs) throw new RateLimitedError(s.endpoint, s.bucket, false, wait);
      waited += wait;
      await sleep(wait);
      if (this.closed) throw new ClientClosedError(s.endpoint);
      wait = this.gate.tryAcquire(s.bucket, this.clock());
    }
  }

  private backoff(attempt: number): number {
    const exp = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** (attempt - 1));
    return Math.ceil(exp / 2 + (exp / 2) * this.random());
  }

  private retryAfterMs(header: string | string[] | undefined): number | undefined {
    const v = Array.isArray(header) ? header[0] : header;
    if (!v) return undefined;
    const secs = Number(v);
    if (Number.isFinite(secs) && secs >= 0) return Math.ceil(secs * 1000);
    const at = Date.parse(v);
    return Number.isNaN(at) ? undefined : Math.max(0, at - this.clock());
  }

  /** A permit this call can spend: taken from this client's gate, for the endpoint's bucket, still held. */
  private checkPermit(s: Spec, permit: RatePermit): void {
    if (permit.gate !== this.gate) throw new RatePermitError(s.endpoint, 'the rate permit was taken from another rate gate');
    if (permit.bucket !== s.bucket) throw new RatePermitError(s.endpoint, `the rate permit is for the ${permit.bucket} bucket, the endpoint draws on ${s.bucket}`);
    if (!permit.isHeld) throw new RatePermitError(s.endpoint, 'the rate permit was already spent or dropped');
  }

  /**
   * One logical call: rate gate (or the caller's permit) → send → classify. `body` undefined means GET
   * (ping). Returns the parsed envelope after the success checks (or the text body for ping). `deadlineMs`: the send
   * deadline (CallOptions.deadlineMs, 0 = none).
   */
  private async call<T>(s: Spec, body: string | undefined, customTag?: string, permit?: RatePermit, deadlineMs = 0): Promise<T> {
    if (this.closed) throw new ClientClosedError(s.endpoint);
    if (permit !== undefined) this.checkPermit(s, permit);
    // The permit pays for the first attempt only: a retry or a resend after a 401 is another request.
    let unspent = permit;
    let attempt = 0;
    let slept = 0;
    let reauthed = false;
    for (;;) {
      attempt++;
      if (unspent === undefined) {
        // Fast path: a granted gate costs no promise; only a wait goes through acquireSlow.
        const wait = this.gate.tryAcquire(s.bucket, this.clock());
        if (wait > 0) await this.acquireSlow(s, wait, deadlineMs);
      }
      if (s.authenticated && this.currentToken === undefined) {
        await this.login();
        if (deadlineMs > 0 && this.clock() >= deadlineMs) throw new SendDeadlineError(s.endpoint, 'login');
      }
      if (unspent !== undefined) {
        // Spent here, after any login, right before the send: a call refused earlier leaves it to its caller to drop.
        if (!unspent.spend()) throw new RatePermitError(s.endpoint, 'the rate permit was spent or dropped while the call waited to log in');
        unspent = undefined;
      }
      const tokenUsed = this.currentToken;
      let status: number;
      let retryAfter: string | string[] | undefined;
      let text: string;
      try {
        const request: DeadlineRequestOptions = {
          method: body === undefined ? 'GET' : 'POST',
          path: this.basePath === '' ? s.path : this.basePath + s.path,
          headers: s.authenticated ? this.authHeaders : GatewayRestClient.publicHeaders,
          body,
          sendDeadlineMs: deadlineMs,
        };
        const res = await this.pool.request(request);
        status = res.statusCode;
        retryAfter = res.headers['retry-after'];
        text = await res.body.text();
      } catch (err) {
        if (this.closed) throw new ClientClosedError(s.endpoint);
        if (err instanceof SendDeadlineAbort && err.firstWrite) throw new SendDeadlineError(s.endpoint, 'connection');
        const code = errCode(err);
        const notSent = NOT_SENT_CODES.has(code);
        if (s.mutation) {
          if (notSent) throw new TransportError(s.endpoint, false, code, err);
          throw new UnknownOutcomeError(s.endpoint, TIMEOUT_CODES.has(code) ? 'timeout' : 'connection-lost', code, { customTag, cause: err });
        }
        const wait = this.backoff(attempt);
        if (attempt < this.maxReadAttempts && slept + wait <= this.retryBudgetMs) {
          this.log.debug({ endpoint: s.endpoint, code, attempt, waitMs: wait }, 'transport error; retrying read');
          slept += wait;
          await sleep(wait);
          continue;
        }
        throw new TransportError(s.endpoint, !notSent, code, err);
      }

      if (status === 200) return this.parse<T>(s, text, customTag);

      if (status === 401 && s.authenticated) {
        // Re-login once (unless another call already rotated the token) and retry once. A 401 is
        // an auth rejection: the request was not executed, so this is safe for mutations as well.
        if (reauthed) throw new AuthError(s.endpoint, 'HTTP 401 after a fresh login');
        reauthed = true;
        this.log.info({ endpoint: s.endpoint }, 'HTTP 401; logging in again');
        if (this.currentToken === tokenUsed) await this.login();
        // The resend is a new write: the re-login may have outlasted the deadline (the 401'd attempt executed nothing).
        if (deadlineMs > 0 && this.clock() >= deadlineMs) throw new SendDeadlineError(s.endpoint, 'login');
        attempt--;
        continue;
      }
      if (status === 401) throw new AuthError(s.endpoint, 'HTTP 401');

      const excerpt = redactBody(text, [this.currentToken, tokenUsed, this.apiKey]);
      if (status === 429 || status >= 500) {
        if (s.mutation) {
          throw new UnknownOutcomeError(s.endpoint, status === 429 ? 'rate-limited' : 'http-status', `HTTP ${status}: ${excerpt}`, { status, customTag });
        }
        const ra = status === 429 ? this.retryAfterMs(retryAfter) : undefined;
        const wait = ra ?? this.backoff(attempt);
        if (attempt < this.maxReadAttempts && slept + wait <= this.retryBudgetMs) {
          this.log.debug({ endpoint: s.endpoint, status, attempt, waitMs: wait }, 'retrying read');
          slept += wait;
          await sleep(wait);
          continue;
        }
        if (status === 429) throw new RateLimitedError(s.endpoint, s.bucket, true, ra);
        throw new HttpStatusError(s.endpoint, status, excerpt);
      }
      throw new HttpStatusError(s.endpoint, status, excerpt);
    }
  }

  private parse<T>(s: Spec, text: string, customTag: string | undefined): T {
    if (s.endpoint === 'Status/ping') return text as T;
    let env: GatewayEnvelope & { orderId?: unknown };
    try {
      env = JSON.parse(text) as GatewayEnvelope;
    } catch {
      return this.inconsistent(s, text, 'body is not JSON', customTag);
    }
    if (env === null || typeof env !== 'object' || typeof env.success !== 'boolean' || typeof env.errorCode !== 'number') {
      return this.inconsistent(s, text, 'no success/errorCode envelope', customTag);
    }
    if (env.success !== (env.errorCode === 0)) {
      return this.inconsistent(s, text, `success=${env.success} with errorCode=${env.errorCode}`, customTag);
    }
    if (env.success) return env as T;

    const endpoint = s.endpoint as Endpoint;
    const codeName = errorCodeName(endpoint, env.errorCode);
    const orderId = typeof env.orderId === 'number' ? env.orderId : undefined;
    const errorMessage = typeof env.errorMessage === 'string' ? env.errorMessage : null;
    if (endpoint === 'Auth/loginKey' || endpoint === 'Auth/validate') {
      throw new AuthError(endpoint, `${codeName} (${env.errorCode})${errorMessage ? `: ${errorMessage}` : ''}`, env.errorCode, codeName);
    }
    if (AMBIGUOUS_ERROR_CODES[endpoint]?.includes(env.errorCode)) {
      throw new UnknownOutcomeError(endpoint, 'ambiguous-code', `${codeName} (${env.errorCode})${errorMessage ? `: ${errorMessage}` : ''}`, {
        errorCode: env.errorCode,
        codeName,
        errorMessage,
        orderId,
        customTag,
      });
    }
    throw new GatewayError(endpoint, env.errorCode, codeName, errorMessage, orderId);
  }

  private inconsistent(s: Spec, text: string, detail: string, customTag: string | undefined): never {
    const excerpt = redactBody(text, [this.currentToken, this.apiKey]);
    const err = new InconsistentResponseError(s.endpoint, 200, excerpt, detail);
    if (s.mutation) throw new UnknownOutcomeError(s.endpoint, 'inconsistent-response', detail, { status: 200, customTag, cause: err });
    throw err;
  }
}

/**
 * Finds the order carrying `customTag` on `accountId`, created at or after `sinceMs` (epoch ms) minus
 * `skewMs` for clock skew against the server: first Order/v2/query (sees Suspended children), then
 * Order/search (some versions' queries lack customTag). `undefined` means "not visible yet": the
 * Gateway is eventually consistent, so ask again after a short delay before concluding the order was
 * never placed.
 */
export async function resolveOrderByTag(
  client: GatewayRestClient,
  accountId: number,
  customTag: string,
  sinceMs: number,
  skewMs = 60_000,
): Promise<Order | undefined> {
  const since = new Date(sinceMs - skewMs).toISOString();
  const queried = await client.queryAllOrders({ accountId, createdAfter: since });
  const hit = queried.find((o) => o.customTag === customTag);
  if (hit) return hit;
  const searched = await client.searchOrders({ accountId, startTimestamp: since });
  return searched?.find((o) => o.customTag === customTag);
}
