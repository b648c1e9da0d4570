/**
 * The one pause the cluster loops share (a poll interval, a retry back-off): a plain timer,
 * kept in one place so the processes' loops wait the same way.
 */

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
