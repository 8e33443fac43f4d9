// A front-door module: one service's gRPC binding, its REST twins and their OpenAPI paths. The
// engine collects the modules (orders, market data, risk) and mounts them on the gRPC server and
// the HTTP port. Main thread.
import type { GrpcServiceBinding } from './grpc-server';
import type { Route } from './http-server';

export interface FrontDoorModule {
  /** Health service name and readiness: the gRPC health service reports it under `grpc.name`. */
  grpc?: GrpcServiceBinding;
  routes?: Route[];
  /** OpenAPI 3 `paths` entries of this module's REST twins. */
  openapiPaths?: Record<string, unknown>;
  /** OpenAPI 3 `components.schemas` entries this module's paths refer to. */
  openapiSchemas?: Record<string, unknown>;
  /** Ready to serve (e.g. orders reconciled); the whole engine serves only when every module does. */
  isReady?(): boolean;
  /** Drain and stop (streams ended, in-flight calls answered) within deadlineMs. */
  stop?(deadlineMs: number): Promise<void>;
}

/** The OpenAPI document of the REST twins, assembled from the modules. */
export function buildOpenApi(modules: FrontDoorModule[], version: string): unknown {
  const paths: Record<string, unknown> = {
    '/healthz': {
      get: {
        summary: 'Readiness of every component',
        responses: {
          '200': { description: 'every component ready' },
          '503': { description: 'some component not ready (status not-ready), or the engine is draining after SIGTERM (status stopping)' },
        },
      },
    },
    '/metrics': { get: { summary: 'Prometheus metrics of every thread, labelled by app', responses: { '200': { description: 'text exposition' } } } },
  };
  const schemas: Record<string, unknown> = {
    Error: {
      type: 'object',
      required: ['error'],
      properties: {
        error: {
          type: 'object',
          required: ['code', 'message'],
          properties: {
            code: { type: 'string', description: 'stable code: INVALID_ARGUMENT, NOT_FOUND, a risk reason code, …' },
            message: { type: 'string' },
            field: { type: 'string', description: 'the request field at fault' },
            reasonCode: { type: 'string' },
          },
        },
      },
    },
  };
  for (const m of modules) {
    Object.assign(paths, m.openapiPaths ?? {});
    Object.assign(schemas, m.openapiSchemas ?? {});
  }
  return {
    openapi: '3.0.3',
    info: { title: 'TopStepX gateway — REST twins of the gRPC front door', version },
    paths,
    components: { schemas },
  };
}
