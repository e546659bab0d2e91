import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import type { GraphQLContext } from '../../../src/graphql/context.js';
import { createOperationReporter } from '../../../src/graphql/operationPlugin.js';
import { createLogger } from '../../../src/observability/logger.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { UpstreamReport } from '../../../src/observability/upstreamReport.js';

function setup(level: string, reportMode: 'off' | 'header' | 'always' = 'header') {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const report = new UpstreamReport();
  report.recordCache('users', 'miss');
  const context = {
    report,
    logger: createLogger(level, stream),
    viewer: { isAdmin: true },
    transport: { kind: 'http' },
    upstream: {},
    requestId: 'r1',
  } as unknown as GraphQLContext;
  const reporter = createOperationReporter({
    metrics: new Metrics({ defaultMetrics: false }),
    reportMode,
    reportAdminsOnly: true,
  });
  return { lines, report, context, reporter };
}

const finished = (context: GraphQLContext) => ({
  context,
  operationName: 'Q',
  durationMs: 1.23,
  errors: [],
  hasData: true,
  admitted: true,
});

describe('the operation reporter on the hot path', () => {
  it('writes one line per operation at info, with its upstream summary', () => {
    const { lines, context, reporter } = setup('info');
    expect(reporter.finish(finished(context))).toBe('success');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      msg: 'graphql operation',
      operation: 'Q',
      upstream: { users: { cacheMisses: 1 } },
    });
  });

  it('builds no line (no upstream summary) when info is off', () => {
    const { lines, report, context, reporter } = setup('warn');
    const byProvider = vi.spyOn(report, 'byProvider');
    reporter.finish(finished(context));
    expect(lines).toHaveLength(0);
    expect(byProvider).not.toHaveBeenCalled();
  });

  it('hands back the extensions unchanged (no copy, no report) when there is nothing to add', () => {
    const { report, context, reporter } = setup('info');
    const toJSON = vi.spyOn(report, 'toJSON');
    const existing = { other: 1 };
    expect(reporter.extensions(existing, context, false)).toBe(existing);
    expect(reporter.extensions(undefined, context, false)).toBeUndefined();
    expect(toJSON).not.toHaveBeenCalled();
    // Asked for: the report is added, the caller's object left alone.
    const shown = reporter.extensions(existing, context, true);
    expect(shown).toMatchObject({ other: 1, upstream: { totalCalls: 0 } });
    expect(existing).toEqual({ other: 1 });
  });

  it('still marks stale data', () => {
    const { report, context, reporter } = setup('info', 'off');
    report.recordCache('stripe', 'stale');
    expect(reporter.extensions(undefined, context, false)).toEqual({ stale: { providers: ['stripe'] } });
  });
});
