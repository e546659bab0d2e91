// The real entry point with tracing on (OTEL_EXPORTER_OTLP_ENDPOINT): its log lines carry the trace
// id, and spans still queued when SIGTERM arrives are exported before the process exits.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, expect, it } from 'vitest';
import { type OtlpReceiver, SPAN_KIND, startOtlpReceiver } from '../helpers/otlpReceiver.js';

let receiver: OtlpReceiver | undefined;
let kill: (() => void) | undefined;
afterEach(async () => {
  kill?.();
  await receiver?.close();
});

const TRACE = '0123456789abcdef0123456789abcdef';

it('main.ts exports the spans queued at SIGTERM and writes trace ids on its log lines', async () => {
  receiver = await startOtlpReceiver();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '60000', // nothing leaves before shutdown
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  kill = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  const until = Date.now() + 20_000;
  while (!/GraphQL at (http:\S+)/.test(stdout) || !/Bearer (\S+)/.test(stdout)) {
    if (Date.now() > until) throw new Error(`no start: ${stdout}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = /GraphQL at (http:\S+)/.exec(stdout)![1]!;
  const token = /Bearer (\S+)/.exec(stdout)![1]!;
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
      traceparent: `00-${TRACE}-00f067aa0ba902b7-01`,
    },
    body: JSON.stringify({ query: 'query Traced { me { id } }' }),
  });
  expect(res.status).toBe(200);
  expect(receiver.spans).toHaveLength(0);

  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  expect(code).toBe(0);
  const op = receiver.spans.find((s) => s.traceId === TRACE && s.kind === SPAN_KIND.server);
  expect(op?.name).toBe('query Traced');
  const line = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.msg === 'graphql operation');
  expect(line).toMatchObject({ trace_id: TRACE, span_id: op?.spanId, operation: 'Traced' });
});
