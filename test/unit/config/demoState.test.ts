// Demo state: secrets generated once per checkout into a 0600 file, reused after, agreed on by
// processes that start at the same time. Every test works in a temporary directory of its own.
import { spawn } from 'node:child_process';
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEMO_SECRETS_FILE,
  demoStateDir,
  generateDemoSecret,
  isDemoStateError,
  openDemoState,
} from '../../../src/demoState.js';

const root = resolve(import.meta.dirname, '../../..');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'junction-state-'));
  dirs.push(dir);
  return join(dir, '.junction'); // not there yet: the module creates it
}

describe('openDemoState', () => {
  it('generates a value once, in a 0600 file under a 0700 directory, and reuses it after', () => {
    const dir = tempDir();
    let generated = 0;
    const generate = () => {
      generated += 1;
      return generateDemoSecret();
    };
    const first = openDemoState(dir).getOrCreate('jwtSecret', generate);
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const file = join(dir, DEMO_SECRETS_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ jwtSecret: first });
    // A new process (here: a new handle) reads the same value back and generates nothing.
    expect(openDemoState(dir).getOrCreate('jwtSecret', generate)).toBe(first);
    expect(generated).toBe(1);
    // Later values join the file; earlier ones stay.
    const key = openDemoState(dir).getOrCreate('tokenKey', () => 'k'.repeat(44));
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ jwtSecret: first, tokenKey: key });
  });

  it('makes a file others can read owner-only again', () => {
    const dir = tempDir();
    const state = openDemoState(dir);
    state.getOrCreate('jwtSecret', generateDemoSecret);
    chmodSync(state.file, 0o644);
    state.getOrCreate('jwtSecret', generateDemoSecret);
    expect(statSync(state.file).mode & 0o777).toBe(0o600);
  });

  it('refuses a damaged file with an error naming it, rather than replacing secrets silently', () => {
    const dir = tempDir();
    const state = openDemoState(dir);
    state.getOrCreate('jwtSecret', generateDemoSecret);
    for (const text of ['{not json', '["a"]', '{"jwtSecret": 42}']) {
      writeFileSync(state.file, text);
      const error = (() => {
        try {
          state.getOrCreate('jwtSecret', generateDemoSecret);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(isDemoStateError(error), text).toBe(true);
      expect((error as Error).message).toContain(state.file);
      expect((error as Error).message).toContain('delete it');
    }
  });

  it('takes over a lock left behind by a process that died, and waits for a live one', () => {
    const dir = tempDir();
    const state = openDemoState(dir);
    state.getOrCreate('first', () => 'one');
    const lock = `${state.file}.lock`;
    writeFileSync(lock, '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    expect(state.getOrCreate('second', () => 'two')).toBe('two');
    expect(() => statSync(lock)).toThrow(); // released
  });

  it('gives processes starting at once one and the same secret', async () => {
    const dir = tempDir();
    const barrier = mkdtempSync(join(tmpdir(), 'junction-barrier-'));
    dirs.push(barrier);
    // Each child says it is ready, then sleeps until the parent signals go: the four calls start
    // within a fraction of a millisecond of each other, as racing server starts would.
    const script = `import { writeFileSync } from 'node:fs';
      import { openDemoState, generateDemoSecret } from ${JSON.stringify(join(root, 'src/demoState.ts'))};
      const state = openDemoState(${JSON.stringify(dir)});
      process.once('SIGUSR1', () => process.stdout.write(state.getOrCreate('jwtSecret', generateDemoSecret)));
      writeFileSync(${JSON.stringify(barrier)} + '/ready-' + process.pid, '');
      setTimeout(() => {}, 20_000);`;
    const children = Array.from({ length: 4 }, () =>
      spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root }),
    );
    const outputs = children.map(
      (child) =>
        new Promise<string>((resolve) => {
          let out = '';
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            child.kill(); // done once it has printed
          });
          child.once('exit', () => resolve(out));
        }),
    );
    const until = Date.now() + 20_000;
    while (readdirSync(barrier).length < 4 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    for (const child of children) child.kill('SIGUSR1');
    const values = new Set(await Promise.all(outputs));
    expect(values.size).toBe(1);
    expect(JSON.parse(readFileSync(join(dir, DEMO_SECRETS_FILE), 'utf8')).jwtSecret).toBe([...values][0]);
  }, 30_000);
});

describe('demoStateDir', () => {
  it('is .junction/ at the checkout root, or JUNCTION_STATE_DIR', () => {
    expect(demoStateDir({})).toBe(join(root, '.junction/'));
    expect(demoStateDir({ JUNCTION_STATE_DIR: '/tmp/elsewhere' })).toBe('/tmp/elsewhere');
    expect(demoStateDir({ JUNCTION_STATE_DIR: '' })).toBe(join(root, '.junction/'));
  });
});
