// `npm run bench:startup`: time to a healthy /healthz and RSS after one query, for the compiled
// server (node dist/main.js) against the same sources through tsx, alternating runs side by side.
// Demo mode on loopback, so no configuration is needed; each server is stopped by its pid.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RUNS = Number(process.env.STARTUP_RUNS ?? 5);
const variants = {
  built: [process.execPath, ['dist/main.js']],
  tsx: [process.execPath, ['--import', 'tsx', 'src/main.ts']],
} as const;

async function once(kind: keyof typeof variants): Promise<{ readyMs: number; rssMiB: number }> {
  const [cmd, args] = variants[kind];
  const state = mkdtempSync(join(tmpdir(), 'junction-startup-'));
  const started = performance.now();
  const child = spawn(cmd, [...args], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', JUNCTION_STATE_DIR: state },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  try {
    let url: string | undefined;
    while (!url) {
      if (performance.now() - started > 30_000) throw new Error(`${kind}: no start`);
      url = /GraphQL at (http:\S+)\/graphql/.exec(out)?.[1];
      if (!url) await new Promise((r) => setTimeout(r, 5));
    }
    for (;;) {
      const ok = await fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const readyMs = performance.now() - started;
    const token = /Bearer (\S+)/.exec(out)?.[1];
    await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ users(first: 20) { nodes { id name billing { id } } } }' }),
    }).then((r) => r.text());
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { readyMs, rssMiB: rssKiB / 1024 };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(state, { recursive: true, force: true });
  }
}

const results: Record<string, Array<{ readyMs: number; rssMiB: number }>> = { built: [], tsx: [] };
for (let i = 0; i < RUNS; i++) {
  for (const kind of ['built', 'tsx'] as const) results[kind]?.push(await once(kind));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
for (const [kind, runs] of Object.entries(results)) {
  console.log(
    `${kind}: ready ${median(runs.map((r) => r.readyMs)).toFixed(0)} ms (runs ${runs.map((r) => r.readyMs.toFixed(0)).join(', ')}), RSS ${median(runs.map((r) => r.rssMiB)).toFixed(0)} MiB`,
  );
}
