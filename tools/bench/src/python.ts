// PlaceOrder round trips from the shipped Python client (libs/python-client, grpcio's C core), the client
// strategies actually use. Runs tools/bench/python/place_orders.py with Debian's /usr/bin/python3 (the only
// interpreter that sees python3-grpcio) after generating the stubs; a machine without them gets the reason.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { scaleSummary, summarizeSamples, type LatencySummary } from './hdr';

export const SYSTEM_PYTHON = '/usr/bin/python3';

export interface PythonRoundtrip {
  root: string;
  grpcAddress: string;
  warmup: number;
  count: number;
  strategy: string;
  symbol: string;
  timeoutMs?: number;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(args[0] ?? file)}: ${(stderr || err.message).trim().split('\n').slice(-1)[0]}`));
      else resolve(stdout);
    });
  });
}

/**
 * true when libs/python-client/out holds stubs newer than every proto and the generator: then the generator
 * (protoc, a second or more on a busy machine) need not run again.
 */
export function stubsFresh(root: string): boolean {
  const out = path.join(root, 'libs/python-client/out');
  if (!existsSync(path.join(out, 'orders_pb2_grpc.py'))) return false;
  const mtime = (f: string): number => statSync(f).mtimeMs;
  const protoDir = path.join(root, 'proto');
  const inputs = [path.join(root, 'libs/python-client/scripts/generate.mjs'), ...readdirSync(protoDir).filter((f) => f.endsWith('.proto')).map((f) => path.join(protoDir, f))];
  const stubs = readdirSync(out).filter((f) => f.endsWith('.py')).map((f) => path.join(out, f));
  return Math.min(...stubs.map(mtime)) > Math.max(...inputs.map(mtime));
}

/** p50/p99/max in ms of the successful calls, or why it could not be measured. */
export async function pythonPlaceOrders(o: PythonRoundtrip): Promise<LatencySummary | string> {
  if (!existsSync(SYSTEM_PYTHON)) return `${SYSTEM_PYTHON} not found`;
  const timeoutMs = o.timeoutMs ?? 300_000;
  try {
    if (!stubsFresh(o.root)) await run(process.execPath, [path.join(o.root, 'libs/python-client/scripts/generate.mjs')], process.env, 60_000);
    const sep = o.grpcAddress.lastIndexOf(':');
    const out = await run(
      SYSTEM_PYTHON,
      [path.join(o.root, 'tools/bench/python/place_orders.py'), o.grpcAddress.slice(0, sep), o.grpcAddress.slice(sep + 1), String(o.warmup), String(o.count), o.strategy, o.symbol],
      { ...process.env, PYTHONPATH: path.join(o.root, 'libs/python-client/src') },
      timeoutMs,
    );
    const r = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { samples_us?: number[]; errors?: string[] };
    const samples = r.samples_us ?? [];
    if (samples.length < o.count / 2) return `Python client: ${samples.length}/${o.count} calls succeeded (${r.errors?.[0] ?? 'no error reported'})`;
    return scaleSummary(summarizeSamples(samples, 'us'), 1000, 'ms');
  } catch (e) {
    return `Python client: ${e instanceof Error ? e.message : String(e)}`;
  }
}
