// The Fedkit operator dashboard: plain browser JavaScript, no build step. It listens to the
// server's read-only feed (server-sent events at ../api/dashboard/events: snapshot, status,
// round, finished) and draws Chart.js charts (window.Chart, served from the server's own
// node_modules). The admin buttons POST to ../api/admin/* with the token the operator typed,
// kept in sessionStorage (this tab only). In async mode (FedBuff, status.mode 'async') the
// page speaks of model versions instead of rounds: labels with data-sync / data-async
// attributes, chart axes, stage names and the rounds table switch with the mode.
/* global window, document, getComputedStyle, EventSource, sessionStorage, fetch */

const Chart = window.Chart;
const TOKEN_KEY = 'fedkit.adminToken';
const MAX_CLIENT_ROWS = 100;
const COLORS = { accuracy: '#2f7d32', loss: '#c0392b', train: '#3367d6', aggregate: '#8e44ad', evaluate: '#e67e22', in: '#00897b', out: '#5e35b1', epsilon: '#d81b60', budget: '#757575' };

const $ = (id) => document.getElementById(id);

/** All round attempts (async: published model versions) as recorded by the server, in order. */
const rounds = [];
/** 'sync' or 'async', from the server's status (or, from an older server, its metrics). */
let mode = 'sync';

// ---- charts ------------------------------------------------------------------------------

Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;
Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;

function lineDataset(label, color, axis) {
  return { label, data: [], borderColor: color, backgroundColor: color, yAxisID: axis, tension: 0.2, pointRadius: 2 };
}

const charts = {
  quality: new Chart($('chart-quality'), {
    type: 'line',
    data: { labels: [], datasets: [lineDataset('accuracy', COLORS.accuracy, 'y'), lineDataset('loss', COLORS.loss, 'y1')] },
    options: {
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: { title: { display: true, text: 'round' } },
        y: { position: 'left', min: 0, max: 1, title: { display: true, text: 'accuracy' } },
        y1: { position: 'right', min: 0, grid: { drawOnChartArea: false }, title: { display: true, text: 'loss' } },
      },
    },
  }),
  duration: new Chart($('chart-duration'), {
    type: 'bar',
    data: {
      labels: [],
      datasets: [
        { label: 'train', data: [], backgroundColor: COLORS.train },
        { label: 'aggregate', data: [], backgroundColor: COLORS.aggregate },
        { label: 'evaluate', data: [], backgroundColor: COLORS.evaluate },
      ],
    },
    options: { scales: { x: { stacked: true, title: { display: true, text: 'round' } }, y: { stacked: true, beginAtZero: true } } },
  }),
  bytes: new Chart($('chart-bytes'), {
    type: 'bar',
    data: {
      labels: [],
      datasets: [
        { label: 'received', data: [], backgroundColor: COLORS.in },
        { label: 'sent', data: [], backgroundColor: COLORS.out },
      ],
    },
    options: { scales: { x: { title: { display: true, text: 'round' } }, y: { beginAtZero: true } } },
  }),
  privacy: new Chart($('chart-privacy'), {
    type: 'line',
    data: {
      labels: [],
      datasets: [lineDataset('ε spent', COLORS.epsilon, 'y'), { ...lineDataset('budget', COLORS.budget, 'y'), borderDash: [6, 4], pointRadius: 0 }],
    },
    options: { scales: { x: { title: { display: true, text: 'round' } }, y: { beginAtZero: true, title: { display: true, text: 'ε' } } } },
  }),
};

/** Switches every mode-dependent label; rounds already shown are redrawn. */
function applyMode(next) {
  if (next !== 'sync' && next !== 'async') return;
  if (next === mode) return;
  mode = next;
  for (const el of document.querySelectorAll('[data-async]')) el.textContent = el.dataset[mode];
  for (const el of document.querySelectorAll('.async-only')) el.hidden = mode !== 'async';
  const badge = $('mode');
  badge.dataset.mode = mode;
  badge.textContent = mode === 'async' ? 'async: model versions (FedBuff)' : 'sync rounds';
  const unit = mode === 'async' ? 'model version' : 'round';
  for (const chart of Object.values(charts)) chart.options.scales.x.title = { display: true, text: unit };
  $('chart-quality').setAttribute('aria-label', `accuracy and loss per ${unit}`);
  $('rounds-table').tBodies[0].replaceChildren();
  for (const r of rounds) appendRoundRow(r);
  renderRoundsCount();
  redrawCharts();
}

/** The stage as shown: async mode trains continuously, so its 'training' says so. */
function stageName(stage) {
  return mode === 'async' && stage === 'training' ? 'training (async)' : stage;
}

function setSeries(chart, labels, series) {
  chart.data.labels = labels;
  series.forEach((values, i) => {
    chart.data.datasets[i].data = values;
  });
  chart.update('none');
  chart.canvas.parentElement.dataset.points = String(labels.length);
}

function redrawCharts() {
  const done = rounds.filter((r) => r.status === 'completed');
  const labels = done.map((r) => String(r.round));
  setSeries(charts.quality, labels, [done.map((r) => r.accuracy ?? null), done.map((r) => r.loss ?? null)]);
  setSeries(charts.duration, labels, [
    done.map((r) => r.trainPhaseMs / 1000),
    done.map((r) => r.aggregateMs / 1000),
    done.map((r) => r.evaluateMs / 1000),
  ]);
  const maxBytes = Math.max(0, ...done.map((r) => Math.max(r.bytesIn, r.bytesOut)));
  const [unit, divisor] = maxBytes >= 1024 ** 3 ? ['GiB', 1024 ** 3] : maxBytes >= 1024 ** 2 ? ['MiB', 1024 ** 2] : maxBytes >= 1024 ? ['KiB', 1024] : ['bytes', 1];
  charts.bytes.options.scales.y.title = { display: true, text: unit };
  setSeries(charts.bytes, labels, [done.map((r) => r.bytesIn / divisor), done.map((r) => r.bytesOut / divisor)]);
  const private_ = done.filter((r) => r.privacy);
  setSeries(charts.privacy, private_.map((r) => String(r.round)), [
    private_.map((r) => r.privacy.epsilon),
    private_.map((r) => r.privacy.budget?.epsilon ?? null),
  ]);
}

// ---- formatting --------------------------------------------------------------------------

const fmt = {
  pct: (x) => (typeof x === 'number' ? `${(x * 100).toFixed(2)}%` : '–'),
  num: (x, digits = 4) => (typeof x === 'number' ? x.toFixed(digits) : '–'),
  ms: (ms) => (ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`),
  bytes: (n) => (n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`),
};

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

// ---- status ------------------------------------------------------------------------------

function renderCounts(table, counts) {
  const body = table.tBodies[0];
  body.replaceChildren();
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) cell(body.insertRow(), 'none', 'muted');
  for (const [name, n] of entries) {
    const row = body.insertRow();
    cell(row, name);
    cell(row, String(n), 'num');
  }
}

function renderStatus(status) {
  applyMode(status.mode);
  const stage = $('stage');
  stage.textContent = stageName(status.stage);
  stage.dataset.stage = status.stage;
  // Once the loop holds, the stage badge says 'paused'; before that the round is finishing.
  $('paused').hidden = !status.paused || status.stage === 'paused';
  $('stopping').hidden = !(status.stopRequested && status.stage !== 'stopped' && status.stage !== 'finished');
  $('round').textContent = mode === 'async' ? `v${status.round} / ${status.roundsPlanned}` : `${status.round} / ${status.roundsPlanned}`;
  $('rounds-completed').textContent = String(status.roundsCompleted);
  $('clients-total').textContent = String(status.clients.total);
  $('accuracy').textContent = fmt.pct(status.lastRound?.accuracy);
  $('model').textContent = `v${status.modelVersion} · ${status.numParams.toLocaleString()} params · ${status.strategy}`;
  renderCounts($('by-platform'), status.clients.byPlatform);
  renderCounts($('by-backend'), status.clients.byBackend);

  const body = $('clients').tBodies[0];
  body.replaceChildren();
  for (const c of status.clients.list.slice(0, MAX_CLIENT_ROWS)) {
    const row = body.insertRow();
    cell(row, c.clientId, 'mono');
    cell(row, c.platform);
    cell(row, c.backend);
    cell(row, String(c.numExamples), 'num');
    cell(row, c.busy ? 'busy' : 'idle');
  }
  const more = status.clients.list.length - MAX_CLIENT_ROWS;
  $('clients-more').hidden = more <= 0;
  $('clients-more').textContent = more > 0 ? `and ${more} more` : '';

  const dp = status.privacy.mode !== 'none';
  for (const el of document.querySelectorAll('.privacy-only')) el.hidden = !dp;
  if (dp) {
    const budget = status.privacy.budget;
    $('epsilon').textContent = budget ? `${fmt.num(status.privacy.epsilon, 3)} / ${budget.epsilon}` : fmt.num(status.privacy.epsilon, 3);
  }
  const ended = status.stage === 'finished' || status.stage === 'stopped';
  $('pause').disabled = ended || status.paused;
  $('resume').disabled = ended || !status.paused;
  $('stop').disabled = ended || status.stopRequested;
}

// ---- rounds ------------------------------------------------------------------------------

function appendRoundRow(r) {
  const row = $('rounds-table').tBodies[0].insertRow(0);
  row.dataset.status = r.status;
  const label = mode === 'async' ? `v${r.round}` : String(r.round);
  cell(row, r.attempt > 1 ? `${label} (try ${r.attempt})` : label, 'num');
  cell(row, r.status === 'failed' ? `failed: ${r.reason ?? ''}` : r.status, r.status);
  // Async: updates folded into the version / train tasks sent while it was built.
  cell(row, `${r.replied}/${r.selected}`, 'num');
  cell(row, fmt.ms(r.durationMs), 'num');
  if (mode === 'async') cell(row, r.async ? `${fmt.num(r.async.stalenessMean, 2)} / ${r.async.stalenessMax}` : '–', 'num');
  cell(row, fmt.pct(r.accuracy), 'num');
  cell(row, fmt.num(r.loss), 'num');
  cell(row, fmt.bytes(r.bytesIn), 'num');
  cell(row, fmt.bytes(r.bytesOut), 'num');
  cell(row, r.privacy ? fmt.num(r.privacy.epsilon, 3) : '–', 'num');
}

function addRound(r) {
  if (r.async) applyMode('async');
  rounds.push(r);
  appendRoundRow(r);
  renderRoundsCount();
}

function renderRoundsCount() {
  $('rounds-count').textContent = `(${rounds.filter((x) => x.status === 'completed').length} ${mode === 'async' ? 'published' : 'completed'})`;
}

// ---- live feed ---------------------------------------------------------------------------

function setFeedState(state, text) {
  const el = $('feed');
  el.dataset.state = state;
  el.textContent = `● ${text}`;
}

function connect() {
  const source = new EventSource('../api/dashboard/events');
  source.addEventListener('open', () => setFeedState('live', 'live'));
  source.addEventListener('error', () => setFeedState('reconnecting', 'reconnecting…'));
  source.addEventListener('snapshot', (event) => {
    const { status, rounds: all } = JSON.parse(event.data);
    applyMode(status.mode);
    rounds.length = 0;
    $('rounds-table').tBodies[0].replaceChildren();
    for (const r of all) addRound(r);
    redrawCharts();
    renderStatus(status);
  });
  source.addEventListener('status', (event) => renderStatus(JSON.parse(event.data)));
  source.addEventListener('round', (event) => {
    addRound(JSON.parse(event.data));
    redrawCharts();
  });
  source.addEventListener('finished', (event) => {
    const summary = JSON.parse(event.data);
    setAdminMessage(`Training ended (${summary.reason}): ${summary.message}`);
  });
}

// ---- admin controls ----------------------------------------------------------------------

function setAdminMessage(text, kind = 'info') {
  const el = $('admin-message');
  el.textContent = text;
  el.dataset.kind = kind;
}

async function adminAction(action) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) {
    setAdminMessage('Enter the admin token first.', 'error');
    $('token').focus();
    return;
  }
  const question = mode === 'async' ? 'Stop training now? Open train tasks are cancelled.' : 'Stop training after the current round?';
  if (action === 'stop' && !window.confirm(question)) return;
  let response;
  try {
    response = await fetch(`../api/admin/${action}`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
  } catch (error) {
    setAdminMessage(`${action} failed: ${error.message}`, 'error');
    return;
  }
  const body = await response.json().catch(() => ({}));
  if (response.ok) {
    setAdminMessage(`${action}: ${body.changed ? 'done' : 'nothing to change'} (stage ${body.stage}${body.paused ? ', paused' : ''})`, 'ok');
    return;
  }
  if (response.status === 401) sessionStorage.removeItem(TOKEN_KEY);
  setAdminMessage(`${action} refused: ${body.error?.code ?? response.status} — ${body.error?.message ?? response.statusText}`, 'error');
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = $('token').value.trim();
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  $('token').value = '';
  setAdminMessage(value ? 'Token kept for this tab.' : 'Empty token ignored.', value ? 'ok' : 'error');
});
$('forget-token').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  setAdminMessage('Token forgotten.');
});
for (const button of document.querySelectorAll('button[data-action]')) {
  button.addEventListener('click', () => void adminAction(button.dataset.action));
}

connect();
