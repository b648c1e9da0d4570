import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEMO_CONFIG } from '../src/demo-defaults.js';
import { parseConfig } from '../src/config-file.js';

describe('config files', () => {
  it('the demo example file equals the embedded demo default', () => {
    const file = JSON.parse(readFileSync(new URL('../../../examples/mnist-2nn/fedkit.config.json', import.meta.url), 'utf8'));
    expect(file).toEqual(JSON.parse(JSON.stringify(DEMO_CONFIG)));
  });

  it('fills defaults and resolves model paths relative to the file', () => {
    const config = parseConfig({ model: { path: 'm/model.json' } }, '/etc/fedkit/config.json');
    expect(config.model).toEqual({ kind: 'path', path: '/etc/fedkit/m/model.json' });
    expect(config.server).toEqual({ port: 8080, host: '127.0.0.1' });
    expect(config.federation.sampling).toEqual({ fraction: 1, minFit: 1, overSelection: 1 });
    expect(config.centralEvaluation).toBeNull();
  });

  it('takes the admin token inline or as a file relative to the config file', () => {
    const inline = parseConfig({ model: { builtin: 'mnist-2nn' }, server: { adminToken: 'a'.repeat(16) } }, '/etc/fedkit/config.json');
    expect(inline.server).toEqual({ port: 8080, host: '127.0.0.1', adminToken: 'a'.repeat(16) });
    const file = parseConfig({ model: { builtin: 'mnist-2nn' }, server: { adminTokenFile: 'secrets/admin' } }, '/etc/fedkit/config.json');
    expect(file.server.adminTokenFile).toBe('/etc/fedkit/secrets/admin');
  });

  it.each([
    [{}, 'field "model"'],
    [{ model: {} }, 'give exactly one of "builtin"'],
    [{ model: { builtin: 'resnet' } }, 'field "model.builtin"'],
    [{ model: { builtin: 'mnist-2nn' }, extra: 1 }, 'unknown field(s) "extra"'],
    [{ model: { builtin: 'mnist-2nn' }, server: { port: 70000 } }, 'field "server.port"'],
    [{ model: { builtin: 'mnist-2nn' }, federation: { sampling: { fraction: 1.5 } } }, 'field "federation.sampling.fraction": must be > 0 and <= 1'],
    [{ model: { builtin: 'mnist-2nn' }, federation: { train: { learningRate: -1 } } }, 'field "federation.train.learningRate"'],
    [{ model: { builtin: 'mnist-2nn' }, federation: { minClients: 2, sampling: { minFit: 3 } } }, 'field "federation.sampling.minFit" (3) must not exceed "minClients" (2)'],
    [{ model: { builtin: 'mnist-2nn' }, federation: { rouds: 3 } }, 'unknown field(s) "rouds"'],
    [{ model: { builtin: 'mnist-2nn' }, centralEvaluation: { dataset: 'cifar' } }, 'field "centralEvaluation.dataset"'],
    [{ model: { builtin: 'mnist-2nn' }, server: { adminToken: 'short' } }, 'field "server.adminToken": must be at least 16 characters'],
    [{ model: { builtin: 'mnist-2nn' }, server: { adminToken: 'a'.repeat(16), adminTokenFile: 't' } }, 'give "server.adminToken" or "server.adminTokenFile", not both'],
  ])('rejects %j naming the field', (raw, message) => {
    expect(() => parseConfig(raw, 'cfg.json')).toThrow(message);
    try {
      parseConfig(raw, 'cfg.json');
    } catch (error) {
      expect((error as { code: string }).code).toBe('config-invalid');
    }
  });
});
