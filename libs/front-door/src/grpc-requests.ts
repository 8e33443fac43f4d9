// Requests with a 64-bit integer that a JS number cannot hold exactly. The generated decoders (ts-proto
// forceLong=number) throw on one beyond ±(2^53 − 1), and grpc-js answers a throwing deserializer INTERNAL:
// the client's mistake looked like an engine fault. Here it is INVALID_ARGUMENT naming the field, the status a
// too-large account_id gets on the REST twins. Main thread.
import { BinaryReader } from '@bufbuild/protobuf/wire';
import type {
  handleServerStreamingCall,
  handleUnaryCall,
  MethodDefinition,
  ServiceDefinition,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { FrontDoorError, toServiceError } from './errors';

/** Decoded in place of an out-of-range 64-bit value, so that the field holding it can be found afterwards. */
const OUT_OF_RANGE_MARK = Number.MIN_SAFE_INTEGER;

/** Reads 64-bit integers like BinaryReader, but marks one beyond ±(2^53 − 1) instead of letting the decoder throw. */
class RangeCheckingReader extends BinaryReader {
  readonly outOfRange: Array<{ type: string; value: string }> = [];

  override int64(): bigint | string {
    return this.check('int64', super.int64());
  }
  override uint64(): bigint | string {
    return this.check('uint64', super.uint64());
  }
  override sint64(): bigint | string {
    return this.check('sint64', super.sint64());
  }
  override fixed64(): bigint | string {
    return this.check('fixed64', super.fixed64());
  }
  override sfixed64(): bigint | string {
    return this.check('sfixed64', super.sfixed64());
  }

  private check(type: string, v: bigint | string): bigint | string {
    if (Number.isSafeInteger(Number(v))) return v;
    this.outOfRange.push({ type, value: String(v) });
    return String(OUT_OF_RANGE_MARK);
  }
}

/** What a handler gets as its request when the request could not be decoded: it answers the error instead of running. */
class UndecodableRequest {
  constructor(readonly error: FrontDoorError) {}
}

const snake = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The proto path (`orders[1].account_id`) of the first field holding the mark. */
function markedField(value: unknown, path: string): string | undefined {
  if (value === OUT_OF_RANGE_MARK) return path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = markedField(value[i], `${path}[${i}]`);
      if (found) return found;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const found = markedField(v, path === '' ? snake(k) : `${path}.${snake(k)}`);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * The request decoded as usual (nothing added on the hot path), and only when that throws, decoded again to tell an
 * out-of-range 64-bit integer (an UndecodableRequest naming its field) from a malformed message (thrown as before:
 * grpc-js answers INTERNAL).
 */
function decode(deserialize: (bytes: Buffer) => unknown, bytes: Buffer): unknown {
  try {
    return deserialize(bytes);
  } catch (err) {
    const reader = new RangeCheckingReader(bytes);
    let decoded: unknown;
    try {
      // The generated deserializers pass their argument to Message.decode, which takes a reader as well as bytes.
      decoded = deserialize(reader as unknown as Buffer);
    } catch {
      throw err;
    }
    const first = reader.outOfRange[0];
    if (first === undefined) throw err;
    const field = markedField(decoded, '') ?? 'request';
    return new UndecodableRequest(
      new FrontDoorError(
        'INVALID_ARGUMENT',
        `${field}: out of range for ${first.type} (-${Number.MAX_SAFE_INTEGER} to ${Number.MAX_SAFE_INTEGER}, 2^53 − 1 in this engine), got ${first.value}`,
        field,
      ),
    );
  }
}

/**
 * A service whose requests go through `decode`, and whose handlers answer an UndecodableRequest with its error.
 * Unary and server-streaming methods only (the engine's protos have no other kind); others are left as they are.
 */
export function withCheckedRequests(
  definition: ServiceDefinition,
  implementation: UntypedServiceImplementation,
): { definition: ServiceDefinition; implementation: UntypedServiceImplementation } {
  const checkedDefinition: Record<string, MethodDefinition<unknown, unknown>> = {};
  const checkedImplementation: UntypedServiceImplementation = { ...implementation };
  for (const [name, method] of Object.entries(definition as Record<string, MethodDefinition<unknown, unknown>>)) {
    checkedDefinition[name] = method;
    if (method.requestStream) continue;
    const deserialize = method.requestDeserialize;
    checkedDefinition[name] = { ...method, requestDeserialize: (bytes: Buffer) => decode(deserialize, bytes) };
    const key = implementation[name] === undefined && method.originalName !== undefined ? method.originalName : name;
    const handler = implementation[key];
    if (handler === undefined) continue;
    if (method.responseStream) {
      const stream = handler as handleServerStreamingCall<unknown, unknown>;
      checkedImplementation[key] = ((call) => {
        if (call.request instanceof UndecodableRequest) return void call.emit('error', toServiceError(call.request.error));
        return stream.call(implementation, call);
      }) satisfies handleServerStreamingCall<unknown, unknown>;
    } else {
      const unary = handler as handleUnaryCall<unknown, unknown>;
      checkedImplementation[key] = ((call, callback) => {
        if (call.request instanceof UndecodableRequest) return callback(toServiceError(call.request.error));
        return unary.call(implementation, call, callback);
      }) satisfies handleUnaryCall<unknown, unknown>;
    }
  }
  return { definition: checkedDefinition as ServiceDefinition, implementation: checkedImplementation };
}
