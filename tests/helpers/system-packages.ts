// Debian packages that the test suite drives for real (STYLE: real parts, no mocks).
// `ensureSystemPackages` installs the missing ones with apt-get when it can (root + apt),
// and otherwise throws an error saying exactly how to install them: tests never skip.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export type SystemPackage = 'chromium' | 'redis-server';

export interface EnsureOptions {
  log?: (line: string) => void;
  /** Whether apt-get may be used. @default running as root on a machine with apt-get */
  canInstall?: boolean;
  /** The files that prove each package is installed. @default SYSTEM_PACKAGES's binaries */
  binaries?: Partial<Record<SystemPackage, string>>;
}

/** The file that proves each package is installed, and what the suite uses it for. */
export const SYSTEM_PACKAGES: Record<SystemPackage, { binary: string; purpose: string }> = {
  chromium: { binary: '/usr/bin/chromium', purpose: 'browser tests in real Chromium' },
  'redis-server': { binary: '/usr/bin/redis-server', purpose: 'scale-out tests on real Redis' },
};

export function missingSystemPackages(names: readonly SystemPackage[], binaries: EnsureOptions['binaries'] = {}): SystemPackage[] {
  return names.filter((name) => !existsSync(binaries[name] ?? SYSTEM_PACKAGES[name].binary));
}

function canUseApt(): boolean {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return isRoot && existsSync('/usr/bin/apt-get');
}

/** Install the missing packages with apt-get, or throw with the command that would. */
export function ensureSystemPackages(names: readonly SystemPackage[], options: EnsureOptions = {}): void {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const missing = missingSystemPackages(names, options.binaries);
  if (missing.length === 0) return;
  const purposes = missing.map((name) => SYSTEM_PACKAGES[name].purpose).join('; ');
  const howTo = `sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}`;
  if (!(options.canInstall ?? canUseApt())) {
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
  const stillMissing = missingSystemPackages(names, options.binaries);
  if (stillMissing.length > 0) {
    throw new Error(`apt-get finished but ${stillMissing.join(', ')} is still missing. Try:\n  ${howTo}`);
  }
}
