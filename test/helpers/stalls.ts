// Event-loop stalls of the test process, for tests whose simulators run in it: a stall holds back
// requests a Junction sent before it, which the simulator then records bunched with later ones.
import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * Starts watching. `slack(rate)` stops and says how many requests beyond a limit such bunching can
 * explain: beyond the 5 % headroom bucketFor keeps (about one request), the longest stall times the
 * rate, capped at 4; 0 when the process ran smoothly (the usual case).
 */
export function watchStalls() {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  return {
    slack(ratePerSecond: number): number {
      histogram.disable();
      const stallS = histogram.max / 1e9;
      return Math.min(4, Math.max(0, Math.ceil(stallS * ratePerSecond) - 1));
    },
  };
}
