/** Reconciliation specs shared by the unit tests of shared passes (fold-query, pass-totals). */

/** A spec with MariaDB legacy and PostgreSQL target and these checks. */
export function specWith(checks: unknown[]): unknown {
  return {
    legacy: { engine: 'mysql', secretRef: { name: 'l' } },
    target: { engine: 'postgres', secretRef: { name: 't' } },
    checks,
  };
}

/** A count of the orders and a sum of the paid orders' totals, whose legacy side folds into the table. */
export const COUNT_AND_PAID_CHECKS: unknown[] = [
  { name: 'n', type: 'count', legacy: { table: 'pos_orders' }, target: { table: 'orders' } },
  {
    name: 'paid',
    type: 'sum',
    legacy: { query: 'SELECT tenant_id, total FROM pos_orders WHERE payment_method IS NOT NULL' },
    target: { table: 'orders' },
    columns: [{ name: 'total', type: 'decimal', scale: 2 }],
  },
];
