// Front-door module of this service (gRPC service + REST twins + OpenAPI paths). Main thread.
import type { FrontDoorDeps } from '../deps';
import type { FrontDoorModule } from '../module';

export function createMarketDataModule(_deps: FrontDoorDeps): FrontDoorModule {
  return {};
}
