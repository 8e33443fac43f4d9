// JSON over HTTP for the REST twins: bounded body reads, errors that name the problem, and one place
// that writes responses. Main thread.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FrontDoorError } from './errors';

/** Bodies beyond this are refused (400 INVALID_ARGUMENT naming `body`) before they are parsed. */
export const MAX_JSON_BODY_BYTES = 1_048_576;

export async function readJson(req: IncomingMessage, maxBytes = MAX_JSON_BODY_BYTES): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (type && !/^application\/json\b/i.test(type)) {
    throw new FrontDoorError('INVALID_ARGUMENT', `content-type must be application/json, got "${type}"`, 'body');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new FrontDoorError('INVALID_ARGUMENT', `body: exceeds ${maxBytes} bytes`, 'body');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new FrontDoorError('INVALID_ARGUMENT', 'body: a JSON object is required', 'body');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new FrontDoorError('INVALID_ARGUMENT', `body: malformed JSON (${(err as Error).message})`, 'body');
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The error body every REST twin uses: `{ error: { code, message, field?, reasonCode?, …metadata } }`. */
export function sendError(res: ServerResponse, err: unknown): void {
  const e = FrontDoorError.from(err);
  sendJson(res, e.httpStatus, {
    error: {
      code: e.code,
      message: e.message,
      ...(e.field ? { field: e.field } : {}),
      ...(e.reasonCode ? { reasonCode: e.reasonCode } : {}),
      ...(e.metadata ?? {}),
    },
  });
}
