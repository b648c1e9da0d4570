import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AdminToken, MIN_ADMIN_TOKEN_LENGTH } from '../src/admin-token.js';

const TOKEN = 'correct-horse-battery-staple';

describe('AdminToken', () => {
  it('is null when no token is configured (admin API disabled)', () => {
    expect(AdminToken.resolve({})).toBeNull();
  });

  it('accepts exactly the configured token', () => {
    const check = AdminToken.resolve({ adminToken: TOKEN })!;
    expect(check.matches(TOKEN)).toBe(true);
    expect(check.matches(`${TOKEN} `)).toBe(false);
    expect(check.matches(TOKEN.slice(0, -1))).toBe(false);
    expect(check.matches(TOKEN.toUpperCase())).toBe(false);
    expect(check.matches('')).toBe(false);
    expect(check.matches('x'.repeat(10_000))).toBe(false);
  });

  it('reads the token from a file, ignoring surrounding whitespace', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'fedkit-admin-')), 'token');
    writeFileSync(file, `\n  ${TOKEN}\n`);
    const check = AdminToken.resolve({ adminTokenFile: file })!;
    expect(check.matches(TOKEN)).toBe(true);
    expect(check.matches(`  ${TOKEN}\n`)).toBe(false);
  });

  it('refuses both options at once, an unreadable file and a short token', () => {
    expect(() => AdminToken.resolve({ adminToken: TOKEN, adminTokenFile: '/x' })).toThrow(/adminToken" or "adminTokenFile", not both/);
    expect(() => AdminToken.resolve({ adminTokenFile: '/nonexistent/fedkit-token' })).toThrow(/field "adminTokenFile": cannot read \/nonexistent\/fedkit-token/);
    expect(() => AdminToken.resolve({ adminToken: 'short' })).toThrow(`at least ${MIN_ADMIN_TOKEN_LENGTH} characters, got 5`);
    try {
      AdminToken.resolve({ adminToken: 'short' });
    } catch (error) {
      expect((error as { code?: string }).code).toBe('config-invalid');
    }
    expect(() => AdminToken.resolve({ adminToken: 42 as unknown as string })).toThrow(TypeError);
  });

  it('never serializes the secret', () => {
    const check = AdminToken.resolve({ adminToken: TOKEN })!;
    expect(JSON.stringify({ check })).not.toContain(TOKEN);
  });
});
