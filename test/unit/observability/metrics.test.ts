// The bounded operation-name labels: only operations that passed the edge and ran, for a signed-in
// viewer, may claim one of the 200; everything else reuses a claimed name or counts as `other`.
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../../src/observability/metrics.js';

const labelsOf = async (metrics: Metrics) =>
  [...(await metrics.text()).matchAll(/junction_graphql_operations_total\{operation="([^"]+)"/g)].map(
    (m) => m[1],
  );

describe('operation name labels', () => {
  it('are never claimed by operations that may not claim them', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    for (let i = 0; i < 250; i += 1) metrics.operation(`Junk${i}`, 'error', 1, { mayClaimName: false });
    metrics.operation('Real', 'success', 1, { mayClaimName: true });
    expect(new Set(await labelsOf(metrics))).toEqual(new Set(['other', 'Real']));
  });

  it('let a refused operation reuse a name already claimed', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.operation('Me', 'success', 1, { mayClaimName: true });
    metrics.operation('Me', 'error', 1, { mayClaimName: false });
    expect(await metrics.text()).toMatch(
      /junction_graphql_operations_total\{operation="Me",outcome="error"\} 1/,
    );
  });

  it('stop at 200 claimed names; later ones count as other', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    for (let i = 0; i < 201; i += 1) metrics.operation(`Op${i}`, 'success', 1, { mayClaimName: true });
    const labels = new Set(await labelsOf(metrics));
    expect(labels.has('Op199')).toBe(true);
    expect(labels.has('Op200')).toBe(false);
    expect(labels.has('other')).toBe(true);
  });
});
