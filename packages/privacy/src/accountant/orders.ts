/**
 * RDP orders (the α of Rényi divergence) at which the accountant tracks privacy loss.
 * (ε, δ) comes from the best single order, so the grid decides how tight the bound is:
 * the default is Opacus's, dense near 1 where small-ε, large-step runs find their optimum.
 */

/**
 * 1.1, 1.2, …, 10.9 (as `1 + x/10`, x = 1…99), then 12, 13, …, 63: the Opacus default.
 * Orders that land on integers (2, 3, …, 10) use the exact binomial sum.
 */
export const DEFAULT_RDP_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, i) => 1 + (i + 1) / 10),
  ...Array.from({ length: 52 }, (_, i) => 12 + i),
]);

/**
 * Checks a list of orders: a non-empty array of finite numbers > 1. Throws `TypeError`
 * for a non-array or a non-number, `RangeError` for anything else, naming the index.
 */
export function assertValidOrders(orders: unknown, name = 'orders'): asserts orders is readonly number[] {
  if (!Array.isArray(orders)) throw new TypeError(`${name} must be an array of numbers, got ${typeof orders}`);
  if (orders.length === 0) throw new RangeError(`${name} must not be empty`);
  orders.forEach((order: unknown, i) => {
    if (typeof order !== 'number') throw new TypeError(`${name}[${i}] must be a number, got ${typeof order}`);
    if (!(Number.isFinite(order) && order > 1)) {
      throw new RangeError(`${name}[${i}] must be a finite number > 1, got ${order}`);
    }
  });
}
