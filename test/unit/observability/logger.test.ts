import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { censorNested, createLogger } from '../../../src/observability/logger.js';

function capture() {
  const lines: Array<Record<string, any>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: createLogger('info', stream) };
}

describe('log redaction', () => {
  it('censors the exact paths and authorization one level under any key', () => {
    const { lines, logger } = capture();
    logger.info(
      {
        authorization: 'Bearer top',
        token: 'tok',
        req: { headers: { authorization: 'Bearer req', cookie: 'c=1', accept: 'json' } },
        request: { authorization: 'Bearer nested', method: 'GET' },
        call: { authorization: 'Basic other' },
        headers: { authorization: 'Bearer h', 'x-api-key': 'k' },
        plain: { provider: 'stripe' },
      },
      'line',
    );
    const line = lines[0] as Record<string, any>;
    expect(line.authorization).toBe('[redacted]');
    expect(line.token).toBe('[redacted]');
    expect(line.req.headers).toEqual({ authorization: '[redacted]', cookie: '[redacted]', accept: 'json' });
    expect(line.request).toEqual({ authorization: '[redacted]', method: 'GET' });
    expect(line.call).toEqual({ authorization: '[redacted]' });
    expect(line.headers).toEqual({ authorization: '[redacted]', 'x-api-key': '[redacted]' });
    expect(line.plain).toEqual({ provider: 'stripe' });
    expect(JSON.stringify(lines)).not.toMatch(/Bearer|Basic|tok"|c=1/);
  });

  it('censors through a child logger, and never changes the object logged', () => {
    const { lines, logger } = capture();
    const logged = { upstream: { authorization: 'Bearer x', calls: 2 } };
    logger.child({ reqId: 'r1' }).info(logged, 'child line');
    expect(lines[0]?.upstream).toEqual({ authorization: '[redacted]', calls: 2 });
    expect(lines[0]?.reqId).toBe('r1');
    expect(logged.upstream.authorization).toBe('Bearer x');
  });

  it('returns a line without such a key as it is (no copy on the hot path)', () => {
    const line = { operation: 'Q', upstream: { users: { calls: 1 } }, errors: ['X'] };
    expect(censorNested(line)).toBe(line);
  });

  it('keeps an error an error when censoring it', () => {
    const err = Object.assign(new Error('boom'), { authorization: 'Bearer e' });
    const out = censorNested({ err });
    expect(out.err).toBeInstanceOf(Error);
    expect((out.err as any).authorization).toBe('[redacted]');
    expect((out.err as Error).message).toBe('boom');
    expect(err.authorization).toBe('Bearer e');
  });
});
