// The per-provider concurrency limit: never more than `limit` in flight, clamped to the pool size.
import { describe, expect, it } from 'vitest';
import { ConcurrencyLimit } from '../../../src/upstream/policies/concurrency.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

async function runMany(gate: ConcurrencyLimit, count: number) {
  let inFlight = 0;
  let maxInFlight = 0;
  const releases = Array.from({ length: count }, deferred);
  const runs = releases.map((d) =>
    gate.run(async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await d.promise;
      inFlight--;
    }),
  );
  await Promise.resolve();
  return { runs, releases, max: () => maxInFlight, inFlight: () => inFlight };
}

describe('ConcurrencyLimit', () => {
  it('never runs more than `limit` at once, and reports active and pending counts', async () => {
    const gate = new ConcurrencyLimit({ limit: 3, poolConnections: 10 });
    const m = await runMany(gate, 10);
    expect(m.inFlight()).toBe(3);
    expect(gate.activeCount).toBe(3);
    expect(gate.pendingCount).toBe(7);
    for (const d of m.releases) {
      d.resolve();
      await new Promise((r) => setImmediate(r));
      expect(m.inFlight()).toBeLessThanOrEqual(3);
    }
    await Promise.all(m.runs);
    expect(m.max()).toBe(3);
    expect(gate.activeCount).toBe(0);
  });

  it('clamps the limit to the pool connections', async () => {
    const gate = new ConcurrencyLimit({ limit: 50, poolConnections: 4 });
    expect(gate.limit).toBe(4);
    const m = await runMany(gate, 12);
    expect(m.inFlight()).toBe(4);
    for (const d of m.releases) d.resolve();
    await Promise.all(m.runs);
    expect(m.max()).toBe(4);
  });

  it('an abort while waiting for a slot rejects at once and the work never runs', async () => {
    const gate = new ConcurrencyLimit({ limit: 1, poolConnections: 1 });
    const first = deferred();
    const running = gate.run(() => first.promise);
    const controller = new AbortController();
    let ran = false;
    const queued = gate.run(async () => {
      ran = true;
    }, controller.signal);
    const reason = new Error('gone');
    controller.abort(reason);
    await expect(queued).rejects.toBe(reason);
    first.resolve();
    await running;
    await new Promise((r) => setImmediate(r));
    expect(ran).toBe(false);
    expect(gate.activeCount + gate.pendingCount).toBe(0);
  });

  it('refuses a limit below 1', () => {
    expect(() => new ConcurrencyLimit({ limit: 0, poolConnections: 4 })).toThrow(
      'concurrency limit must be an integer >= 1, got 0',
    );
  });
});
