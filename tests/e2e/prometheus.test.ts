/**
 * `GET /metrics` scraped after real rounds (central DP with a budget, one client failing a
 * round) and parsed strictly: every series matches what the server recorded.
 */
import { describe, expect, it } from 'vitest';
import { constantTrainer, federationSession } from '../helpers/federation.js';
import { parseExposition, sampleValue } from '../helpers/prometheus-text.js';

const session = federationSession();

async function scrape(url: string): Promise<{ contentType: string | null; text: string }> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  return { contentType: response.headers.get('content-type'), text: await response.text() };
}

describe('Prometheus /metrics', () => {
  it('exports rounds, clients, durations, bytes, failures, ε and process metrics', async () => {
    const budget = { epsilon: 10, delta: 1e-5 };
    const { server, url } = await session.server({
      rounds: 2,
      allowSeededRandom: true,
      privacy: { mode: 'central', clipNorm: 1, noiseMultiplier: 1.2, expectedClients: 3, budget },
    });
    session.track(server);
    const summary = server.run();
    const flaky = constantTrainer(0.5);
    const train = flaky.train.bind(flaky);
    flaky.train = async (global, config, context) => {
      if (context.round === 2) throw new Error('local disk full');
      return train(global, config, context);
    };
    session.client(url, 'a', constantTrainer(1));
    session.client(url, 'b', constantTrainer(2));
    session.client(url, 'flaky', flaky);
    const result = await summary;
    expect(result.roundsCompleted).toBe(2);

    const { contentType, text } = await scrape(url);
    expect(contentType).toMatch(/^text\/plain; .*version=0\.0\.4/);
    const m = parseExposition(text);
    const history = server.roundHistory();
    const status = server.status();

    expect(m.types.get('fedkit_rounds_completed_total')).toBe('counter');
    expect(sampleValue(m, 'fedkit_rounds_completed_total')).toBe(2);
    expect(sampleValue(m, 'fedkit_round_attempts_failed_total')).toBe(0);
    expect(sampleValue(m, 'fedkit_current_round')).toBe(status.round);
    expect(sampleValue(m, 'fedkit_model_version')).toBe(2);
    expect(sampleValue(m, 'fedkit_connected_clients', { platform: 'node', backend: 'test' })).toBe(3);
    expect(sampleValue(m, 'fedkit_stage', { stage: 'finished' })).toBe(1);
    expect(sampleValue(m, 'fedkit_stage', { stage: 'training' })).toBe(0);
    expect(sampleValue(m, 'fedkit_paused')).toBe(0);

    expect(m.types.get('fedkit_round_duration_seconds')).toBe('histogram');
    expect(sampleValue(m, 'fedkit_round_duration_seconds_count', { status: 'completed' })).toBe(2);
    const totalSeconds = history.reduce((s, r) => s + r.durationMs, 0) / 1000;
    expect(sampleValue(m, 'fedkit_round_duration_seconds_sum', { status: 'completed' })).toBeCloseTo(totalSeconds, 6);
    const buckets = m.samples.filter((s) => s.name === 'fedkit_round_duration_seconds_bucket' && s.labels.status === 'completed');
    expect(buckets.at(-1)).toMatchObject({ labels: { le: '+Inf' }, value: 2 });
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);

    expect(sampleValue(m, 'fedkit_payload_bytes_received_total')).toBe(history.reduce((s, r) => s + r.bytesIn, 0));
    expect(sampleValue(m, 'fedkit_payload_bytes_sent_total')).toBe(history.reduce((s, r) => s + r.bytesOut, 0));
    expect(sampleValue(m, 'fedkit_payload_bytes_sent_total')).toBe(2 * 3 * 8 * 4);
    expect(history[1]!.failed).toEqual([expect.objectContaining({ clientId: 'flaky', code: 'training-failed' })]);
    expect(sampleValue(m, 'fedkit_client_failures_total', { code: 'training-failed' })).toBe(1);

    expect(status.privacy.epsilon).toBeGreaterThan(0);
    expect(sampleValue(m, 'fedkit_privacy_epsilon_spent')).toBeCloseTo(status.privacy.epsilon, 9);
    expect(sampleValue(m, 'fedkit_privacy_epsilon_budget')).toBe(budget.epsilon);

    // prom-client's process defaults.
    expect(sampleValue(m, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(sampleValue(m, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(m.types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
  });

  it('keeps one registry per server, and has no budget series without DP', async () => {
    const first = await session.server({ rounds: 1 });
    const second = await session.server({ rounds: 1 });
    const summary = first.server.run();
    for (const id of ['a', 'b', 'c']) session.client(first.url, id, constantTrainer(1));
    await summary;
    const a = parseExposition((await scrape(first.url)).text);
    const b = parseExposition((await scrape(second.url)).text);
    expect(sampleValue(a, 'fedkit_rounds_completed_total')).toBe(1);
    expect(sampleValue(b, 'fedkit_rounds_completed_total')).toBe(0);
    expect(sampleValue(b, 'fedkit_stage', { stage: 'starting' })).toBe(1);
    expect(sampleValue(a, 'fedkit_privacy_epsilon_spent')).toBe(0);
    expect(a.types.has('fedkit_privacy_epsilon_budget')).toBe(false);
    expect(b.samples.some((s) => s.name === 'fedkit_connected_clients')).toBe(false);
  });
});
