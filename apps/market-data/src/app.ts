// The market-data service: the market hub feed → marks in shared memory, bars and indicators, the
// recent-bar cache and the WebSocket fan-out. (Service body: issue 5.)
import type { ServiceApp, WorkerContext } from '@gateway/runtime';

export function createApp(ctx: WorkerContext): ServiceApp {
  const { init, logger } = ctx;
  return {
    async start() {
      logger.info({ contracts: init.contracts.map((c) => c.contractId) }, 'market-data started');
    },
    async stop() {
      logger.info('market-data stopped');
    },
    readyInfo: () => ({ contracts: init.contracts.length }),
  };
}
