// Test helpers: raw HTTP (undici) and raw SignalR-over-WebSocket clients for the simulator.
import { request } from 'undici';
import { WebSocket } from 'ws';
import { createSimulator, type Simulator, type SimulatorOptions } from '../src/index';

export const MNQ = 'CON.F.US.MNQ.Z26';
export const ES = 'CON.F.US.EP.Z26';
/** A fixed clock inside the default contracts' front month (Dec 2026 index futures). */
export const T0 = Date.parse('2026-11-25T15:00:00.000Z');

export interface TestClock {
  now: number;
  (): number;
}

export function testClock(start = T0): TestClock {
  const c = (() => c.now) as TestClock;
  c.now = start;
  return c;
}

/** A quiet simulator: no random walk, no rate limits unless asked, fixed clock. */
export async function quietSim(options: SimulatorOptions = {}): Promise<Simulator & { clock: TestClock }> {
  const clock = testClock();
  const sim = await createSimulator({ clock, rateLimits: false, ...options, market: { tradesPerSecond: 0, historyDays: 1, ...options.market } });
  return Object.assign(sim, { clock });
}

export interface Res {
  status: number;
  text: string;
  json: Record<string, any>;
  headers: Record<string, string | string[] | undefined>;
}

export async function post(sim: Simulator, path: string, body: unknown, token?: string | null, raw?: string): Promise<Res> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/plain' };
  if (token) headers['authorization'] = `Bearer ${token}`;
  const r = await request(`${sim.url}/api/${path}`, { method: 'POST', headers, body: raw ?? JSON.stringify(body) });
  const text = await r.body.text();
  let json: Record<string, any> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, any>) : {};
  } catch {
    json = {};
  }
  return { status: r.statusCode, text, json, headers: r.headers };
}

export async function login(sim: Simulator): Promise<string> {
  const r = await post(sim, 'Auth/loginKey', { userName: 'demo', apiKey: 'demo-key' });
  if (r.status !== 200 || !r.json['success']) throw new Error(`login failed: ${r.status} ${r.text}`);
  return r.json['token'] as string;
}

/** An authenticated caller bound to one simulator. */
export async function client(sim: Simulator) {
  const token = await login(sim);
  const call = (path: string, body: unknown) => post(sim, path, body, token);
  return {
    token,
    call,
    place: (body: Record<string, unknown>) => call('Order/place', { accountId: 1001, contractId: MNQ, size: 1, ...body }),
    order: async (orderId: number, accountId = 1001) => (await call('Order/searchById', { accountId, orderId })).json['order'] as Record<string, any>,
    positions: async (accountId = 1001) => (await call('Position/searchOpen', { accountId })).json['positions'] as Record<string, any>[],
    trades: async (accountId = 1001) => (await call('Trade/search', { accountId, startTimestamp: '2000-01-01T00:00:00Z' })).json['trades'] as Record<string, any>[],
  };
}

const RS = '\x1e';

/** A raw SignalR JSON-protocol client over `ws`. */
export class RawHub {
  readonly records: any[] = [];
  readonly frames: string[] = [];
  private waiters: Array<() => void> = [];
  private nextId = 1;
  closed = false;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const text = data.toString();
      this.frames.push(text);
      for (const r of text.split(RS)) if (r) this.records.push(JSON.parse(r));
      for (const w of this.waiters.splice(0)) w();
    });
    ws.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async connect(url: string, token: string | null, handshake = true): Promise<RawHub> {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + (token ? `?access_token=${encodeURIComponent(token)}` : ''));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    const hub = new RawHub(ws);
    if (handshake) {
      ws.send(`{"protocol":"json","version":1}${RS}`);
      await hub.waitFor((r) => Object.keys(r).length === 0);
    }
    return hub;
  }

  send(obj: unknown): void {
    this.ws.send(JSON.stringify(obj) + RS);
  }

  async invoke(target: string, ...args: unknown[]): Promise<any> {
    const invocationId = String(this.nextId++);
    this.send({ type: 1, invocationId, target, arguments: args });
    return this.waitFor((r) => r.type === 3 && r.invocationId === invocationId);
  }

  events(target: string): any[] {
    return this.records.filter((r) => r.type === 1 && r.target === target);
  }

  /** Resolves with the first record matching `pred` (past or future); rejects after `ms`. */
  async waitFor(pred: (r: any) => boolean, ms = 10_000): Promise<any> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.records.find(pred);
      if (hit) return hit;
      if (this.closed) throw new Error('hub closed while waiting');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a hub record');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async waitClosed(ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('hub did not close');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Poll `fn` until it returns a truthy value (bounded). */
export async function until<T>(fn: () => T | Promise<T>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
