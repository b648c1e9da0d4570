// Entry of the prebuilt single-file bundle (dist/bundle/fedkit-web.js) for a plain
// <script type="module">: the same file is the page's API and, loaded as a module worker,
// the training worker, so one URL is all a page needs. Side effect: serves in a worker.
import { setDefaultWorkerUrl } from './web-client.js';
import { isWorkerScope, serveWorker } from './worker-entry.js';

export * from './index.js';

if (isWorkerScope()) serveWorker();
else setDefaultWorkerUrl(import.meta.url);
