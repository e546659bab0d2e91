// A malformed GRAPHQL_ALLOWLIST manifest stops the real entry point with one readable line.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';

it('exits 1 naming GRAPHQL_ALLOWLIST, the file and the first problem, without a validation dump', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'junction-allowlist-')), 'manifest.json');
  writeFileSync(
    path,
    JSON.stringify({
      format: 'apollo-persisted-query-manifest',
      version: 1,
      operations: [{ id: 'x', body: '{ a }' }],
    }),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: '0',
      HOST: '127.0.0.1',
      GRAPHQL_ALLOWLIST: path,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const [code] = await once(child, 'exit');
  expect(code).toBe(1);
  expect(stderr.trim()).toBe(
    `Junction failed to start: GRAPHQL_ALLOWLIST (${path}): operations[0].id: expected 64 lowercase hex characters (a sha256) (expected Apollo's apollo-persisted-query-manifest, version 1)`,
  );
});
