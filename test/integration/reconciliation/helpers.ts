import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { planFromSpec, type ReconciliationPlan } from '../../../src/reconciliation/plan.js';
import { connect, type SqlConnection } from '../../../src/reconciliation/connection.js';
import { samplesDir } from '../../../src/devenv/nokta-data/generator.js';
import type { DifferingKey } from '../../../src/reconciliation/result.js';

export function manifestPlan(file: string): ReconciliationPlan {
  const doc = parse(readFileSync(join(samplesDir(), file), 'utf8')) as { spec: unknown };
  return planFromSpec(doc.spec);
}

export function open(
  legacyUrl: string,
  targetUrl: string,
  timeout = 60,
): { legacy: SqlConnection; target: SqlConnection; close(): Promise<void> } {
  const legacy = connect('mysql', legacyUrl, { role: 'legacy', statementTimeoutSeconds: timeout });
  const target = connect('postgres', targetUrl, { role: 'target', statementTimeoutSeconds: timeout });
  return { legacy, target, close: async () => void (await Promise.all([legacy.close(), target.close()])) };
}

export function keySet(keys: { tenant: string; key: string; kind: string; columns?: string[] }[]): string[] {
  return keys
    .map((k) => `${k.tenant}/${k.key}/${k.kind}${k.columns ? `/${[...k.columns].sort().join(',')}` : ''}`)
    .sort();
}

export function sortKeys(keys: DifferingKey[]): string[] {
  return keySet(keys);
}

/** The Nokta sample's checks plus a sum check whose two sides are queries. */
export function skewPlan(): ReconciliationPlan {
  const plan = manifestPlan('reconciliation-nokta.yaml');
  const sum = plan.checks.find((c) => c.name === 'orders-financial-totals');
  if (!sum) throw new Error('the sample lost orders-financial-totals');
  plan.checks.push({
    ...sum,
    name: 'paid-totals-query-sides',
    legacy: {
      query: 'SELECT tenant_id, total FROM pos_orders WHERE payment_method IS NOT NULL',
      tenantColumn: 'tenant_id',
    },
    target: { query: 'SELECT tenant_id, amount AS total FROM order_payments', tenantColumn: 'tenant_id' },
    columns: sum.columns.filter((c) => c.name === 'total'),
  });
  return plan;
}
