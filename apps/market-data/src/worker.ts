// Thread entry of this service inside the engine (and under `nx serve`): all the work is in app.ts.
import { runServiceWorker } from '@gateway/runtime';
import { createApp } from './app';

await runServiceWorker(createApp);
