// The watcher of the trade → subscriber latency (tick-latency.ts): a client of the simulator's market hub
// (SignalR JSON protocol over WebSocket, as the engine's market-data thread is) subscribed to the trades of
// every active contract. Each message is stamped on arrival with process.hrtime, before it is parsed. Runs in a
// load-generator process (client.ts), never in the engine's.
import WebSocket from 'ws';
import { readHubRecords, RecordSplitter, type TradeBatch } from './tick-latency';

const RS = '\x1e';
const nowUs = (): number => Number(process.hrtime.bigint()) / 1000;

export interface HubWatcher {
  /** Active contracts subscribed. */
  contracts: number;
  /** Every GatewayTrade message so far, in arrival order. */
  readonly batches: TradeBatch[];
  /** Hub messages received (trades, pings, completions). */
  messages(): number;
  errors: string[];
  stop(): void;
}

interface Envelope {
  success?: boolean;
  errorCode?: number;
  token?: string;
  contracts?: { id: string; activeContract: boolean }[];
}

/**
 * Logs in to the simulator (its default login, as the bare-place benchmark does), subscribes to the trades of
 * every active contract and resolves once the hub has acknowledged every subscription (each invocation carries an
 * id, so its completion says the subscription is in place). `onBatch` sees each batch as it is stamped.
 */
export async function watchHubTrades(simUrl: string, onBatch?: (b: TradeBatch) => void, timeoutMs = 30_000): Promise<HubWatcher> {
  const post = async (path: string, body: unknown, token?: string): Promise<Envelope> => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token) headers['authorization'] = `Bearer ${token}`;
    const res = await fetch(`${simUrl}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return (await res.json()) as Envelope;
  };
  const login = await post('/api/Auth/loginKey', { userName: 'demo', apiKey: 'demo-key' });
  if (!login.success || !login.token) throw new Error(`Auth/loginKey: errorCode ${login.errorCode}`);
  const token = login.token;
  const contracts = ((await post('/api/Contract/available', { live: false }, token)).contracts ?? []).filter((c) => c.activeContract);
  if (contracts.length === 0) throw new Error('Contract/available: no active contract');

  const ws = new WebSocket(`${simUrl.replace(/^http/, 'ws')}/hubs/market?access_token=${encodeURIComponent(token)}`, { perMessageDeflate: false });
  const split = new RecordSplitter();
  const batches: TradeBatch[] = [];
  const errors: string[] = [];
  const pending = new Set(contracts.map((_, i) => String(i + 1)));
  let messages = 0;
  let stopping = false;
  const fail = (e: string): void => void (errors.length < 3 && errors.push(`market hub: ${e}`));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`market hub: subscriptions not acknowledged within ${timeoutMs} ms`)), timeoutMs);
    const settle = (err?: string): void => {
      clearTimeout(timer);
      if (err) reject(new Error(`market hub: ${err}`));
      else resolve();
    };
    ws.once('open', () => ws.send(`{"protocol":"json","version":1}${RS}`));
    ws.on('error', (e) => {
      fail(e.message);
      settle(e.message);
    });
    ws.once('close', () => {
      if (stopping) return;
      fail('closed the connection');
      settle('closed the connection');
    });
    ws.on('message', (data: Buffer) => {
      const a = nowUs();
      messages++;
      const h = readHubRecords(split.push(data.toString()));
      for (const b of h.batches) {
        const batch: TradeBatch = { c: b.contractId, a, r: b.runs };
        batches.push(batch);
        onBatch?.(batch);
      }
      // Answering the server's pings keeps the hub's client timeout (30 s without a message) from firing.
      if (h.ping) ws.send(`{"type":6}${RS}`);
      if (h.close !== undefined) {
        fail(h.close);
        settle(h.close);
      }
      if (h.handshake) contracts.forEach((c, i) => ws.send(`${JSON.stringify({ type: 1, invocationId: String(i + 1), target: 'SubscribeContractTrades', arguments: [c.id] })}${RS}`));
      for (const done of h.completions) {
        if (done.error !== undefined) settle(`SubscribeContractTrades: ${done.error}`);
        pending.delete(done.id);
        if (pending.size === 0) settle();
      }
    });
  }).catch((e: unknown) => {
    stopping = true;
    ws.terminate();
    throw e;
  });
  return {
    contracts: contracts.length,
    batches,
    messages: () => messages,
    errors,
    stop() {
      stopping = true;
      ws.terminate();
    },
  };
}
