import { Worker } from 'node:worker_threads';

const ENTRY = new URL('../workers/entry.mjs', import.meta.url);

export interface Started<T> {
  worker: Worker;
  ready: Promise<void>;
  done: Promise<T>;
}

/** Starts test/workers/<script> through the .mjs tsx entry; `ready` and `done` reject on error, exit or timeout. */
export function startWorker<T>(script: string, data: Record<string, unknown>, timeoutMs = 150_000): Started<T> {
  const worker = new Worker(ENTRY, { workerData: { script, ...data } });
  let onReady!: () => void;
  let onDone!: (v: T) => void;
  let fail!: (e: Error) => void;
  const ready = new Promise<void>((res) => (onReady = res));
  const done = new Promise<T>((res, rej) => {
    onDone = res;
    fail = rej;
  });
  const timer = setTimeout(() => fail(new Error(`${script}: no result within ${timeoutMs} ms`)), timeoutMs);
  worker.on('message', (msg: { kind: string } & T) => {
    if (msg.kind === 'ready') onReady();
    else if (msg.kind === 'done') {
      clearTimeout(timer);
      onDone(msg);
    }
  });
  worker.on('error', (e) => {
    clearTimeout(timer);
    fail(e);
  });
  worker.on('exit', (code) => {
    clearTimeout(timer);
    fail(new Error(`${script}: exited with code ${code} before reporting`));
  });
  // A worker that dies before `ready` must fail the test rather than hang it.
  done.catch(() => onReady());
  return { worker, ready, done };
}
