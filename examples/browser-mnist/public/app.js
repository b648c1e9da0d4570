/* global URLSearchParams, location, document, window, fetch */
// The example page: fetch this visitor's slice of MNIST from the server, start the Fedkit
// browser client on it, and show backend, round, local progress and the global accuracy.
// Query options: ?backend=webgpu|wasm|webgl|cpu (default: feature detection), ?slice=N,
// ?worker=never (train on the main thread), ?token=T (enrollment token for a server with `auth`).
import { startWebClient } from '/fedkit/client-web/fedkit-web.js';

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const example = { client: null, events: [], error: null };
window.fedkitExample = example;

function log(level, message) {
  const item = document.createElement('li');
  item.className = level;
  item.textContent = `${new Date().toLocaleTimeString()} ${message}`;
  $('log').prepend(item);
  example.events.push({ type: 'log', level, message });
  if (level === 'warn') console.warn(`fedkit: ${message}`);
  else console.info(`fedkit: ${message}`);
}

async function fetchSlice(split, slice, meta) {
  const response = await fetch(`data/${split}.bin?slice=${slice}`);
  if (!response.ok) throw new Error(`data/${split}.bin: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const count = bytes.length / (meta.xShape[0] + 1);
  const size = count * meta.xShape[0];
  return { x: bytes.subarray(0, size), y: bytes.subarray(size), xShape: meta.xShape, numClasses: meta.numClasses, scale: 1 / 255 };
}

let polling = false;
async function showGlobalAccuracy() {
  if (polling) return;
  polling = true;
  try {
    const response = await fetch('/api/status', { cache: 'no-store' });
    const status = await response.json();
    $('rounds-done').textContent = `${status.roundsCompleted} of ${status.roundsPlanned} rounds done · ${status.clients.total} client${status.clients.total === 1 ? '' : 's'}`;
    const last = status.lastRound;
    if (last?.accuracy !== undefined) {
      $('accuracy').textContent = `${(last.accuracy * 100).toFixed(2)}%`;
      $('accuracy-source').textContent = `after round ${last.round} · ${last.centralEvaluation ? `server test set (${last.centralEvaluation.numExamples} images)` : 'clients’ held-out data'}`;
    }
  } catch {
    // The server is away; the client is reconnecting and says so in Status.
  } finally {
    polling = false;
  }
}

async function main() {
  const meta = await (await fetch('data/meta.json')).json();
  const slice = params.has('slice') ? Number(params.get('slice')) : Math.floor(Math.random() * meta.slices);
  const [train, test] = await Promise.all([fetchSlice('train', slice, meta), fetchSlice('test', slice, meta)]);
  $('slice').textContent = `slice ${slice}: ${train.y.length} training images`;
  $('state').textContent = 'starting…';
  const client = await startWebClient({
    train,
    test,
    backend: params.get('backend') ?? 'auto',
    worker: params.get('worker') === 'never' ? 'never' : 'auto',
    expectedShape: { xShape: meta.xShape, numClasses: meta.numClasses },
    reconnect: { initialDelayMs: 300, maxDelayMs: 2000 },
    ...(params.has('token') ? { authToken: params.get('token') } : {}),
  });
  example.client = client;
  $('backend').textContent = client.backend.backend;
  $('backend-reason').textContent = `${client.backend.reason} · ${client.mode === 'worker' ? 'in a Web Worker' : 'on the main thread'}`;
  log(client.backend.reason.includes('unavailable') ? 'warn' : 'info', `backend ${client.backend.backend}: ${client.backend.reason}`);
  const record = (type) => (payload) => example.events.push({ type, ...payload });
  for (const type of ['state', 'joined', 'round-start', 'train-done', 'evaluate-done', 'disconnected', 'finished', 'error']) client.on(type, record(type));
  client.on('state', ({ state, paused }) => {
    $('state').textContent = paused ? `${state} (paused)` : state;
  });
  client.on('joined', ({ clientId }) => log('info', `joined as ${clientId}`));
  client.on('round-start', ({ round }) => {
    $('round').textContent = String(round);
    $('progress').value = 0;
  });
  client.on('progress', (p) => {
    const total = p.batchesPerEpoch;
    $('progress').value = (p.batch + 1) / total;
    $('progress-text').textContent = `round ${p.round} · epoch ${p.epoch + 1} · batch ${p.batch + 1}/${total}`;
    $('loss').textContent = p.loss.toFixed(4);
  });
  client.on('train-done', ({ round, metrics }) => {
    $('local-accuracy').textContent = `${(metrics.accuracy * 100).toFixed(1)}%`;
    log('info', `round ${round}: trained on ${train.y.length} images, loss ${metrics.loss.toFixed(4)}, update sent`);
    setTimeout(showGlobalAccuracy, 300);
  });
  client.on('disconnected', ({ reason }) => log('warn', `connection lost (${reason}); reconnecting`));
  client.on('log', ({ level, message }) => {
    if (level === 'warn' || level === 'error') log('warn', message);
  });
  const done = () => {
    $('pause').disabled = true;
    $('stop').disabled = true;
  };
  client.on('finished', ({ message }) => {
    log('info', `training finished: ${message}`);
    done();
  });
  client.on('error', ({ code, message }) => {
    example.error = { code, message };
    log('warn', `stopped: ${code}: ${message}`);
    done();
  });
  setInterval(showGlobalAccuracy, 2000);
  const pause = $('pause');
  pause.disabled = false;
  $('stop').disabled = false;
  pause.addEventListener('click', () => {
    const paused = pause.textContent === 'Resume';
    if (paused) client.resume();
    else client.pause();
    pause.textContent = paused ? 'Pause' : 'Resume';
  });
  $('stop').addEventListener('click', () => {
    client.stop();
    pause.disabled = true;
    $('stop').disabled = true;
  });
}

main().catch((error) => {
  example.error = { code: error.code ?? 'error', message: error.message };
  $('state').textContent = 'error';
  log('warn', `could not start: ${error.message}`);
});
