/**
 * The suite's own provisioning: present packages pass silently; a missing one that cannot
 * be installed fails loudly with the apt-get line to run (never a skip).
 */
import { describe, expect, it } from 'vitest';
import { ensureSystemPackages, missingSystemPackages } from '../helpers/system-packages.js';

describe('ensureSystemPackages', () => {
  it('does nothing when the packages are installed', () => {
    const lines: string[] = [];
    ensureSystemPackages(['chromium'], { binaries: { chromium: process.execPath }, log: (l) => lines.push(l), canInstall: false });
    expect(lines).toEqual([]);
  });

  it('names what is missing', () => {
    expect(missingSystemPackages(['chromium', 'redis-server'], { chromium: '/nonexistent/chromium', 'redis-server': process.execPath })).toEqual(['chromium']);
  });

  it('fails with the install command when it may not install', () => {
    expect(() => ensureSystemPackages(['chromium'], { binaries: { chromium: '/nonexistent/chromium' }, canInstall: false })).toThrow(
      /needs the Debian package\(s\) chromium .*\n\s+sudo apt-get update && sudo apt-get install -y chromium/s,
    );
  });
});
