/**
 * The "sleep until something changes" primitive of the round loop: a waiter joins a set,
 * and whoever changes the state wakes the whole set; an aborted signal wakes it too.
 */

/** Resolves when `waiters` is woken (each waiter is called once) or `signal` aborts. */
export function nextWakeup(waiters: Set<() => void>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const wake = (): void => {
      waiters.delete(wake);
      signal.removeEventListener('abort', wake);
      resolve();
    };
    waiters.add(wake);
    signal.addEventListener('abort', wake, { once: true });
  });
}

/** Wakes every current waiter. */
export function wakeAll(waiters: Set<() => void>): void {
  for (const wake of [...waiters]) wake();
}
