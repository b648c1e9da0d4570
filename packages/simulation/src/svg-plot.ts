/**
 * Small SVG line charts written by hand, so a run directory carries its own plots without a
 * charting dependency: test accuracy and loss against the round (two panels side by side),
 * and test accuracy against wall-clock time for one run or several (one line each, with a
 * legend), each with axis ticks and an optional dashed target line.
 */

export interface PlotPoint {
  round: number;
  accuracy?: number;
  loss?: number;
}

export interface PlotOptions {
  title: string;
  /** Drawn as a dashed horizontal line on the accuracy panel. */
  target?: number;
}

const PANEL_W = 420;
const PANEL_H = 280;
const MARGIN = { left: 58, right: 16, top: 36, bottom: 42 };

/** The SVG document (a string) for `points`. */
export function renderPlot(points: readonly PlotPoint[], options: PlotOptions): string {
  const acc = points.filter((p) => p.accuracy !== undefined).map((p) => [p.round, p.accuracy!] as const);
  const loss = points.filter((p) => p.loss !== undefined && Number.isFinite(p.loss)).map((p) => [p.round, p.loss!] as const);
  const width = 2 * (PANEL_W + MARGIN.left + MARGIN.right);
  const height = PANEL_H + MARGIN.top + MARGIN.bottom + 24;
  const accLow = acc.length === 0 ? 0 : Math.min(...acc.map((p) => p[1]), options.target ?? 1);
  const accRange: [number, number] = [Math.max(0, Math.floor(accLow * 20) / 20), 1];
  const lossHigh = loss.length === 0 ? 1 : Math.max(...loss.map((p) => p[1]));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14">${escapeXml(options.title)}</text>`,
    panel(0, 'test accuracy', 'round', [{ data: acc, color: '#1f77b4' }], accRange, options.target),
    panel(PANEL_W + MARGIN.left + MARGIN.right, 'test loss', 'round', [{ data: loss, color: '#d62728' }], [0, niceCeil(lossHigh)]),
    `</svg>`,
  ];
  return `${parts.join('\n')}\n`;
}

/** One run's accuracy over wall-clock time, for `renderWallClockPlot`. */
export interface WallClockSeries {
  /** Shown in the legend. */
  name: string;
  points: readonly { wallClockMs: number; accuracy: number }[];
}

const SERIES_COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

/**
 * Test accuracy against wall-clock time (seconds since training started) for one or more
 * runs, one line each: how sync rounds and async model versions compare in time.
 */
export function renderWallClockPlot(series: readonly WallClockSeries[], options: PlotOptions): string {
  const lines = series.map((s, i) => ({ data: s.points.map((p) => [p.wallClockMs / 1000, p.accuracy] as const), color: SERIES_COLORS[i % SERIES_COLORS.length]! }));
  const all = lines.flatMap((l) => l.data.map((p) => p[1]));
  const low = all.length === 0 ? 0 : Math.min(...all, options.target ?? 1);
  const width = PANEL_W + MARGIN.left + MARGIN.right + 170;
  const height = PANEL_H + MARGIN.top + MARGIN.bottom + 24;
  const legendX = PANEL_W + MARGIN.left + MARGIN.right + 4;
  const legend = series.map((s, i) => {
    const y = MARGIN.top + 14 + i * 18;
    return `<line x1="${legendX}" x2="${legendX + 18}" y1="${y}" y2="${y}" stroke="${lines[i]!.color}" stroke-width="2"/><text x="${legendX + 24}" y="${y}" dominant-baseline="middle">${escapeXml(s.name)}</text>`;
  });
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14">${escapeXml(options.title)}</text>`,
    panel(0, 'test accuracy', 'wall-clock time since training started (s)', lines, [Math.max(0, Math.floor(low * 20) / 20), 1], options.target),
    ...legend,
    `</svg>`,
  ];
  return `${parts.join('\n')}\n`;
}

function panel(
  offsetX: number,
  label: string,
  xLabel: string,
  series: readonly { data: readonly (readonly [number, number])[]; color: string }[],
  yRange: [number, number],
  target?: number,
): string {
  const x0 = offsetX + MARGIN.left;
  const y0 = MARGIN.top + PANEL_H;
  const maxRound = niceCeil(Math.max(1, ...series.flatMap((s) => s.data.map((p) => p[0]))));
  const sx = (r: number): number => x0 + (r / maxRound) * PANEL_W;
  const sy = (v: number): number => y0 - ((v - yRange[0]) / (yRange[1] - yRange[0] || 1)) * PANEL_H;
  const out: string[] = [`<g>`];
  out.push(`<rect x="${x0}" y="${MARGIN.top}" width="${PANEL_W}" height="${PANEL_H}" fill="none" stroke="#888"/>`);
  for (let i = 0; i <= 5; i++) {
    const v = yRange[0] + ((yRange[1] - yRange[0]) * i) / 5;
    const y = sy(v).toFixed(1);
    out.push(`<line x1="${x0}" x2="${x0 + PANEL_W}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    out.push(`<text x="${x0 - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatTick(v)}</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const r = Math.round((maxRound * i) / 5);
    out.push(`<text x="${sx(r).toFixed(1)}" y="${y0 + 16}" text-anchor="middle">${r}</text>`);
  }
  out.push(`<text x="${x0 + PANEL_W / 2}" y="${y0 + 34}" text-anchor="middle">${escapeXml(xLabel)}</text>`);
  out.push(`<text x="${x0 + 8}" y="${MARGIN.top - 8}">${label}</text>`);
  if (target !== undefined && target >= yRange[0]) {
    const y = sy(target).toFixed(1);
    out.push(`<line x1="${x0}" x2="${x0 + PANEL_W}" y1="${y}" y2="${y}" stroke="#555" stroke-dasharray="5 4"/>`);
    out.push(`<text x="${x0 + PANEL_W - 4}" y="${Number(y) - 4}" text-anchor="end" fill="#555">target ${target}</text>`);
  }
  for (const { data, color } of series) {
    if (data.length === 0) continue;
    const path = data.map((p, i) => `${i === 0 ? 'M' : 'L'}${sx(p[0]).toFixed(1)},${sy(Math.max(yRange[0], p[1])).toFixed(1)}`).join(' ');
    out.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
  }
  out.push(`</g>`);
  return out.join('\n');
}

function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const step = 10 ** Math.floor(Math.log10(v)) / 2;
  return Math.ceil(v / step) * step;
}

function formatTick(v: number): string {
  return Math.abs(v) >= 10 ? v.toFixed(0) : Number(v.toFixed(3)).toString();
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
