// deadlineSignal: a deadline inside AbortSignal.any() must fire even after a garbage collection.
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { deadlineSignal, isTimeoutReason, raceAbort } from '../../../src/upstream/abort.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

describe('deadlineSignal', () => {
  it('still aborts a composite signal after a GC, with a TimeoutError reason', async () => {
    // Only AbortSignal.any holds the deadline (weakly): the timer must keep it alive.
    const composite = AbortSignal.any([new AbortController().signal, deadlineSignal(80).signal]);
    for (let i = 0; i < 3; i++) gc();
    await new Promise((r) => setTimeout(r, 150));
    expect(composite.aborted).toBe(true);
    expect(isTimeoutReason(composite.reason)).toBe(true);
  });

  it('never fires once cancelled', async () => {
    const { signal, cancel } = deadlineSignal(30);
    cancel();
    await new Promise((r) => setTimeout(r, 60));
    expect(signal.aborted).toBe(false);
  });

  it('lets a waiter stop waiting on a shared promise without cancelling it', async () => {
    const shared = new Promise<string>((r) => setTimeout(() => r('done'), 50));
    const { signal } = deadlineSignal(10);
    await expect(raceAbort(shared, signal)).rejects.toMatchObject({ name: 'TimeoutError' });
    await expect(shared).resolves.toBe('done');
  });
});
