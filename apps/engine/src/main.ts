// `npm start`: the engine against the embedded simulator (or the real Gateway when TOPSTEPX_API_URL
// and credentials are set). Prints one line when ready; SIGINT/SIGTERM stop it cleanly within
// 1.5 × SHUTDOWN_TIMEOUT_MS + 1 s (7 s by default): past that it exits 1 whatever is left.
import { ConfigError, createLogger, loadConfig } from '@gateway/runtime';
import { startEngine } from './engine';

let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`engine: bad configuration: ${err.message}`);
    process.exit(2);
  }
  throw err;
}
const logger = createLogger({ app: 'engine', thread: 'main', level: config.logLevel });
try {
  const engine = await startEngine(config, import.meta.url, logger);
  const broker = engine.runtime.simulator ? `embedded simulator ${engine.runtime.broker.apiUrl}` : engine.runtime.broker.apiUrl;
  logger.info({ httpPort: engine.httpPort, grpcPort: engine.grpcPort, broker }, 'engine ready');
  const md = engine.supervisor.status().find((s) => s.app === 'market-data')?.info as { wsPort?: number } | undefined;
  process.stdout.write(
    `engine ready: grpc ${config.grpcHost}:${engine.grpcPort} · http ${config.httpHost}:${engine.httpPort} · ` +
      `market-data ws ${config.marketDataWsHost}:${md?.wsPort ?? config.marketDataWsPort} · broker ${broker}\n`,
  );
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'engine stopping');
    // The drain's three steps (doors, modules, threads) are each bounded by half of SHUTDOWN_TIMEOUT_MS, so
    // together by 1.5 times it: this only catches a stop that hangs past them.
    const hard = setTimeout(() => process.exit(1), config.shutdownTimeoutMs * 1.5 + 1000);
    hard.unref();
    engine.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'engine stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
} catch (err) {
  logger.fatal({ err }, 'engine failed to start');
  logger.flush();
  setImmediate(() => process.exit(1));
}
