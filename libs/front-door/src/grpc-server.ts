// The gRPC front door: one @grpc/grpc-js server on GRPC_HOST:GRPC_PORT carrying the engine's
// services and the standard health service. Main thread.
import {
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { health } from '@gateway/proto';
import { withCheckedRequests } from './grpc-requests';

const { HealthService, HealthCheckResponse_ServingStatus: ServingStatus } = health;
type ServingStatus = health.HealthCheckResponse_ServingStatus;

export interface GrpcServiceBinding {
  /** Fully qualified name reported by the health service, e.g. `orders.OrderService`. */
  name: string;
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
}

export interface GrpcFrontDoor {
  readonly port: number;
  readonly server: Server;
  /**
   * Set a service's health ("" = the whole engine); Watch streams see a change, nothing when unchanged. Ignored
   * once draining: a draining engine never reports SERVING again.
   */
  setServing(service: string, serving: boolean): void;
  /**
   * The drain starts (SIGTERM): every service, "" included, reports NOT_SERVING from now on, so that load balancers
   * and strategies move away before the port closes. Calls are still taken and answered until close.
   */
  drain(): void;
  /** Drain, stop taking calls, let in-flight calls finish for graceMs, then cancel what is left. */
  close(graceMs: number): Promise<void>;
}

export async function startGrpcFrontDoor(options: {
  host: string;
  port: number;
  services: GrpcServiceBinding[];
  /** Max message size in bytes (default 4 MiB, a batch of 1,000 orders fits). */
  maxMessageBytes?: number;
}): Promise<GrpcFrontDoor> {
  const server = new Server({
    'grpc.max_receive_message_length': options.maxMessageBytes ?? 4 * 1024 * 1024,
    'grpc.keepalive_permit_without_calls': 1,
    // Channelz keeps per-call counters and timestamps for a debug service we do not expose: work on every call.
    'grpc.enable_channelz': 0,
  });
  const statuses = new Map<string, ServingStatus>([['', ServingStatus.NOT_SERVING]]);
  const watchers = new Map<string, Set<ServerWritableStream<health.HealthCheckRequest, health.HealthCheckResponse>>>();
  for (const s of options.services) {
    statuses.set(s.name, ServingStatus.NOT_SERVING);
    const checked = withCheckedRequests(s.definition, s.implementation);
    server.addService(checked.definition, checked.implementation);
  }
  let draining = false;
  const publish = (service: string, status: ServingStatus): void => {
    // Watch streams hear changes only (the health protocol), though the engine republishes every second.
    if (statuses.get(service) === status) return;
    statuses.set(service, status);
    for (const call of watchers.get(service) ?? []) call.write({ status });
  };
  const drain = (): void => {
    draining = true;
    for (const service of statuses.keys()) publish(service, ServingStatus.NOT_SERVING);
  };
  const healthImpl: health.HealthServer = {
    check(call: ServerUnaryCall<health.HealthCheckRequest, health.HealthCheckResponse>, callback: sendUnaryData<health.HealthCheckResponse>) {
      const status = statuses.get(call.request.service);
      if (status === undefined) return callback({ code: GrpcStatus.NOT_FOUND, details: `unknown service "${call.request.service}"` });
      return callback(null, { status });
    },
    watch(call: ServerWritableStream<health.HealthCheckRequest, health.HealthCheckResponse>) {
      const name = call.request.service;
      call.write({ status: statuses.get(name) ?? ServingStatus.SERVICE_UNKNOWN });
      let set = watchers.get(name);
      if (!set) watchers.set(name, (set = new Set()));
      set.add(call);
      call.on('cancelled', () => set!.delete(call));
    },
  };
  server.addService(HealthService, healthImpl);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );

  return {
    port,
    server,
    setServing(service, serving) {
      if (draining) return;
      publish(service, serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    },
    drain,
    close(graceMs) {
      drain();
      for (const set of watchers.values()) for (const call of set) call.end();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
