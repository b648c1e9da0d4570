/**
 * `pnpm example:browser [--port N] [--rounds N]`: starts the browser-MNIST example and
 * prints the page's URL. Open it in a browser (a phone on the same network works too, with
 * --host 0.0.0.0) and that browser joins the federation and trains on its slice of MNIST.
 * Prints `{"pageUrl": ...}` as its first stdout line when run with --json (used by tests).
 */
import { parseArgs } from 'node:util';
import { startBrowserMnist } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    rounds: { type: 'string', default: '20' },
    'slice-examples': { type: 'string', default: '600' },
    'central-examples': { type: 'string', default: '2000' },
    json: { type: 'boolean', default: false },
  },
});

const example = await startBrowserMnist({
  port: Number(values.port),
  host: values.host,
  sliceExamples: Number(values['slice-examples']),
  centralExamples: Number(values['central-examples']),
  federation: { rounds: Number(values.rounds) },
});
if (values.json) console.log(JSON.stringify({ pageUrl: example.pageUrl, port: example.port }));
else {
  console.log(`fedkit browser example: open ${example.pageUrl}`);
  console.log('each browser that opens it joins the federation and trains on its slice of MNIST (Ctrl-C stops)');
}
example.server.on('round', (r) => {
  if (!values.json) console.log(`round ${r.round} ${r.status} · ${r.replied}/${r.selected} clients · accuracy ${r.accuracy === undefined ? '–' : (r.accuracy * 100).toFixed(2) + '%'}`);
});
const stop = (): void => void example.close().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
