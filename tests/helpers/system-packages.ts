// Debian packages that the test suite drives for real (STYLE: real parts, no mocks).
// `ensureSystemPackages` installs the missing ones with apt-get when it can (root + apt),
// and otherwise throws an error saying exactly how to install them: tests never skip.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export type SystemPackage = 'chromium' | 'redis-server';

/** The file that proves each package is installed, and what the suite uses it for. */
export const SYSTEM_PACKAGES: Record<SystemPackage, { binary: string; purpose: string }> = {
  chromium: { binary: '/usr/bin/chromium', purpose: 'browser tests in real Chromium' },
  'redis-server': { binary: '/usr/bin/redis-server', purpose: 'scale-out tests on real Redis' },
};

export function missingSystemPackages(names: readonly SystemPackage[]): SystemPackage[] {
  return names.filter((name) => !existsSync(SYSTEM_PACKAGES[name].binary));
}

function canUseApt(): boolean {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return isRoot && existsSync('/usr/bin/apt-get');
}

/** Install the missing packages with apt-get, or throw with the command that would. */
export function ensureSystemPackages(
  names: readonly SystemPackage[],
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): void {
  const missing = missingSystemPackages(names);
  if (missing.length === 0) return;
  const purposes = missing.map((name) => SYSTEM_PACKAGES[name].purpose).join('; ');
  const howTo = `sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}`;
  if (!canUseApt()) {
    throw new Error(
      `The test suite needs the Debian package(s) ${missing.join(', ')} (${purposes}) and cannot ` +
        `install them here (not root, or no apt-get). Install them with:\n  ${howTo}`,
    );
  }
  log(`fedkit tests: installing ${missing.join(', ')} with apt-get (once; about a minute)...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const quiet = { stdio: ['ignore', 'ignore', 'inherit'] as ('ignore' | 'inherit')[], env };
  try {
    execFileSync('apt-get', ['update'], quiet);
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], quiet);
  } catch (error) {
    throw new Error(`apt-get could not install ${missing.join(', ')}: ${String(error)}\nTry:\n  ${howTo}`);
  }
  const stillMissing = missingSystemPackages(names);
  if (stillMissing.length > 0) {
    throw new Error(`apt-get finished but ${stillMissing.join(', ')} is still missing. Try:\n  ${howTo}`);
  }
}
