// Reads a V8 .cpuprofile (written by `node --cpu-prof`) and sums self time per function and per
// package, so the report can say where Junction's CPU goes under saturation.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileEntry {
  name: string;
  where: string;
  selfMs: number;
  selfPct: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Share of samples where the thread was busy (not idle). */
  busyPct: number;
  topFunctions: ProfileEntry[];
  byOwner: ProfileEntry[];
}

/** Who a script belongs to: Junction's src/, a node_modules package, Node itself, or V8. */
export function ownerOf(url: string, functionName: string): string {
  if (url === '') {
    if (functionName === '(garbage collector)') return '(garbage collector)';
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(program)') return '(program)';
    return '(native/V8)';
  }
  if (url.startsWith('node:')) return 'node core';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? 'node_modules');
  }
  const src = url.indexOf('/src/');
  if (src >= 0) return `junction src/${url.slice(src + 5).split('/')[0]}`;
  return url.replace(/^file:\/\//, '');
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  const src = url.indexOf('/src/');
  if (src >= 0) return url.slice(src + 1);
  return url.replace(/^file:\/\//, '');
}

/**
 * Sums self time per function and per owner. `window` (µs on the monotonic clock that both V8's
 * profile timestamps and `process.hrtime` use) keeps only the samples taken inside it, e.g. the
 * measured load and not the process's startup.
 */
export function summarizeProfile(
  path: string,
  window?: { fromUs: number; toUs: number },
  top = 20,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const collect = (from: number, to: number) => {
    const self = new Map<number, number>();
    let at = profile.startTime;
    for (let i = 0; i < profile.samples.length; i++) {
      const id = profile.samples[i] as number;
      // timeDeltas[i] is the time since the previous sample; attribute it to this sample's node.
      const delta = profile.timeDeltas[i] ?? 0;
      at += delta;
      if (at < from || at > to) continue;
      self.set(id, (self.get(id) ?? 0) + Math.max(0, delta));
    }
    return self;
  };
  let selfUs = window ? collect(window.fromUs, window.toUs) : collect(-Infinity, Infinity);
  // Clocks that do not line up (another platform) would leave nothing: fall back to every sample.
  if (selfUs.size === 0) selfUs = collect(-Infinity, Infinity);
  const fn = new Map<string, { name: string; where: string; us: number }>();
  const owners = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    total += us;
    const owner = ownerOf(url, functionName);
    if (owner === '(idle)') idle += us;
    owners.set(owner, (owners.get(owner) ?? 0) + us);
    const name = functionName || '(anonymous)';
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : '';
    const key = `${name}@${where}`;
    const entry = fn.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    fn.set(key, entry);
  }
  const busy = total - idle;
  const pct = (us: number) => Math.round((us / Math.max(1, busy)) * 1000) / 10;
  const ms = (us: number) => Math.round(us / 100) / 10;
  return {
    totalMs: ms(total),
    busyPct: Math.round((busy / Math.max(1, total)) * 1000) / 10,
    topFunctions: [...fn.values()]
      .filter((e) => e.name !== '(idle)')
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((e) => ({ name: e.name, where: e.where, selfMs: ms(e.us), selfPct: pct(e.us) })),
    byOwner: [...owners.entries()]
      .filter(([owner]) => owner !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([owner, us]) => ({ name: owner, where: '', selfMs: ms(us), selfPct: pct(us) })),
  };
}
