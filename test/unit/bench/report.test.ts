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
  it('shows, next to the errors, how many S2 answers held a wrong user without saying so', () => {
    const s2 = (coldWrong: number | undefined, warmWrong: number) => ({
      queries: 100,
      floorPerQuery: 30,
      coldPerQuery: 30,
      coldVsFloor: 1,
      queriesAtFloor: 100,
      coldByRoute: {},
      coldErrors: 1,
      coldWrong,
      warmFloorPerQuery: 28,
      warmPerQuery: 4,
      warmByRoute: {},
      warmErrors: 0,
      warmWrong,
    });
    const results = {
      systems: [
        { id: 'junction', label: 'Junction', short: 'Junction', description: '', status: 'ok' },
        { id: 'tailcall', label: 'B5 Tailcall', short: 'B5 tailcall', description: '', status: 'ok' },
      ],
      s1: {},
      s2: { junction: s2(0, 0), tailcall: s2(2, 1) },
      s3: {},
      s4: {},
      s5: {},
    } as unknown as BenchResults;
    const lines = resultsTable(results).split('\n');
    expect(lines.find((line) => line.includes('wrong or missing user'))).toBe(
      '| S2 | queries answered without an error but with a wrong or missing user (of 200) | 0 | 3 |  |',
    );
    expect(lines.find((line) => line.includes('answered with errors'))).toBe(
      '| S2 | queries answered with errors (of 200) | 1 | 1 |  |',
    );
  });

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
