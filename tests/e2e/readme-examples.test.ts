/**
 * The README's code sample must work as written: it is examples/node-client/train.ts,
 * included verbatim, and this test runs that file against a real server.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FederationServer } from '@fedkit/server';
import { seededRandomSource } from '@fedkit/protocol';
import { createMnist2nn, serializeModel } from '@fedkit/client-core';
import { initNodeBackend } from '@fedkit/client-node';

const example = fileURLToPath(new URL('../../examples/node-client/train.ts', import.meta.url));
let server: FederationServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('README examples', () => {
  it('the README embeds examples/node-client/train.ts verbatim', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(readFileSync(example, 'utf8').trim());
  });

  it('examples/node-client/train.ts joins a server, trains and finishes', async () => {
    await initNodeBackend({ backend: 'cpu' });
    const model = createMnist2nn();
    const { topology, layout, weights } = serializeModel(model);
    model.dispose();
    server = new FederationServer({ model: { topology, layout, weights }, rounds: 1, minClients: 1, evaluate: { every: 0 }, random: seededRandomSource(1) });
    const port = await server.listen(0);
    const summary = server.run();
    const child = spawn(process.execPath, ['--import', 'tsx', example], {
      env: { ...process.env, FEDKIT_SERVER: `http://127.0.0.1:${port}` },
      stdio: 'pipe',
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect((await summary).roundsCompleted).toBe(1);
    expect(code, output).toBe(0);
    expect(output).toMatch(/round 1: loss \d+\.\d{4}/);
    expect(output).toContain('training finished: completed');
  }, 60_000);
});
