// The module a training worker loads in the ESM build (bundlers such as Vite emit it as a
// worker chunk through `new URL('./worker.js', import.meta.url)`). Side effect: serves.
import { serveWorker } from './worker-entry.js';

serveWorker();
