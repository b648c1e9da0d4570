// Real, headless Debian Chromium for browser tests, driven by playwright-core (REFERENCE §5).
// Never a downloaded browser: the executable is /usr/bin/chromium, which the suite's global
// setup installs with apt-get when it is missing.
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, devices, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ensureSystemPackages, SYSTEM_PACKAGES } from './system-packages.js';

const BASE_FLAGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  // Keep timers and rAF running in a headless background tab while it trains.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
];

/** WebGPU on this CPU-only machine runs on SwiftShader; it needs a http://localhost page. */
const WEBGPU_FLAGS = ['--enable-unsafe-webgpu'];

export interface LaunchOptions {
  /** Enable WebGPU (SwiftShader adapter here). Default true. */
  webgpu?: boolean;
  /** Extra Chromium flags, e.g. `--host-resolver-rules=MAP fedkit.test 127.0.0.1` for an insecure origin. */
  args?: string[];
}

export async function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  ensureSystemPackages(['chromium']);
  const flags = [...BASE_FLAGS, ...(options.webgpu === false ? [] : WEBGPU_FLAGS), ...(options.args ?? [])];
  return chromium.launch({ executablePath: SYSTEM_PACKAGES.chromium.binary, headless: true, args: flags });
}

/** A context emulating a phone (Chromium's device emulation: viewport, touch, mobile UA). */
export function newMobileContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ ...devices['Pixel 7'] });
}

/**
 * Collects console errors and uncaught page errors; tests assert the list is empty.
 * `allow` filters out messages a test provokes on purpose.
 */
export function watchConsoleErrors(page: Page, allow: RegExp[] = []): string[] {
  const errors: string[] = [];
  const keep = (text: string): void => {
    if (!allow.some((pattern) => pattern.test(text))) errors.push(text);
  };
  page.on('console', (message) => {
    if (message.type() === 'error') keep(`console.error: ${message.text()}`);
  });
  page.on('pageerror', (error) => keep(`pageerror: ${error.message}`));
  return errors;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where tests save screenshots (git-ignored; CI keeps them as artifacts). */
export function artifactPath(name: string): string {
  const dir = join(ROOT, 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}
