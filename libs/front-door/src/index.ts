export * from './errors';
export * from './http-json';
export * from './http-server';
export * from './grpc-server';
export * from './module';
