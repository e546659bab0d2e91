// The bench report's S5 rows: a fast answer under an outage is shown next to what it contained.
import { describe, expect, it } from 'vitest';
import type { LoadResult } from '../../bench/lib/load.js';
import { type BenchResults, resultsTable } from '../../bench/lib/report.js';

const load = (p: number): LoadResult => ({
  requests: 100,
  rps: 50,
  p50: p,
  p95: p,
  p99: p,
  max: p,
  non2xx: 0,
  errors: 0,
  timeouts: 0,
});

describe('bench report', () => {
  it('shows how many users came back with their name in each system’s S5 sample', () => {
    const results = {
      systems: [
        { id: 'junction', label: 'Junction', short: 'Junction', description: '', status: 'ok' },
        { id: 'tailcall', label: 'B5 Tailcall', short: 'B5 tailcall', description: '', status: 'ok' },
      ],
      s1: {},
      s2: {},
      s3: {},
      s4: {},
      s5: {
        '503': {
          mode: '503',
          durationS: 5,
          bySystem: {
            junction: { ...load(2), sampleNames: 10, sampleBillingNull: 10, sampleErrorCodes: ['X'] },
            tailcall: { ...load(1), sampleNames: 0, sampleBillingNull: 0, sampleErrorCodes: ['none'] },
          },
        },
      },
    } as unknown as BenchResults;
    const row = resultsTable(results)
      .split('\n')
      .find((line) => line.includes('sample answer'));
    expect(row).toBe('| S5 Stripe answers 503 | sample answer: users with their name (of 10) | 10 | 0 |  |');
  });
});
