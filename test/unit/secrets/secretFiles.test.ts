// secretFiles.ts against real files in a temporary directory: an atomic rename and a Kubernetes-style
// `..data` symlink swap are seen by the directory watcher, the poll catches what no watcher reports,
// invalid and unreadable files keep the value in use, and checks never overlap.
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { collectFileSecrets, SecretFiles, type SecretFilesObserver } from '../../../src/secretFiles.js';
import { type FileSecret, fileSecret, fixedSecret } from '../../../src/secrets.js';
import { until } from '../../helpers/ws.js';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const run of cleanup.splice(0)) run();
  vi.useRealTimers();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'junction-secrets-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function secretAt(file: string, value: string, parse?: (text: string) => string): FileSecret<string> {
  return fileSecret({ variable: 'STRIPE_SECRET_KEY', file, raw: value, value, parse });
}

function recorder() {
  const events: string[] = [];
  const observer: SecretFilesObserver = {
    changed: (s, trigger) => events.push(`${s.variable} changed ${trigger}`),
    invalid: (s, problem, trigger) => events.push(`${s.variable} invalid ${trigger}: ${problem}`),
    unreadable: (s, code, trigger) => events.push(`${s.variable} unreadable ${trigger}: ${code}`),
  };
  return { events, observer };
}

function start(options: ConstructorParameters<typeof SecretFiles>[0]): SecretFiles {
  const files = new SecretFiles(options);
  files.start();
  cleanup.push(() => files.close());
  return files;
}

describe('SecretFiles', () => {
  it('sees a file replaced by an atomic rename, through the directory watcher', async () => {
    const dir = tempDir();
    const file = join(dir, 'stripe-key');
    writeFileSync(file, 'sk_old\n');
    const secret = secretAt(file, 'sk_old');
    const { events, observer } = recorder();
    start({ secrets: [secret], pollIntervalMs: 0, observer });
    writeFileSync(join(dir, '.tmp'), 'sk_new\n');
    renameSync(join(dir, '.tmp'), file);
    await until(() => secret.current() === 'sk_new');
    expect(events).toEqual(['STRIPE_SECRET_KEY changed watch']);
  });

  it('sees a Kubernetes secret volume update (the ..data symlink swapped to a new directory)', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, '..2024_01_01'));
    writeFileSync(join(dir, '..2024_01_01', 'token'), 'tok_v1');
    symlinkSync('..2024_01_01', join(dir, '..data'));
    symlinkSync(join('..data', 'token'), join(dir, 'token'));
    const secret = secretAt(join(dir, 'token'), 'tok_v1');
    start({ secrets: [secret], pollIntervalMs: 0 });
    // What the kubelet does: a new timestamped directory, a new link, renamed over ..data.
    mkdirSync(join(dir, '..2024_01_02'));
    writeFileSync(join(dir, '..2024_01_02', 'token'), 'tok_v2');
    symlinkSync('..2024_01_02', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    rmSync(join(dir, '..2024_01_01'), { recursive: true });
    await until(() => secret.current() === 'tok_v2');
  });

  it('polls: a change no watcher reports is taken on the next poll', async () => {
    vi.useFakeTimers();
    let text = 'sk_old';
    // A directory that does not exist cannot be watched: only the poll is left.
    const secret = secretAt('/nonexistent/junction-test/stripe-key', 'sk_old');
    const { events, observer } = recorder();
    start({ secrets: [secret], pollIntervalMs: 5_000, observer, readText: async () => text });
    text = 'sk_new';
    await vi.advanceTimersByTimeAsync(4_999);
    expect(secret.current()).toBe('sk_old');
    await vi.advanceTimersByTimeAsync(1);
    expect(secret.current()).toBe('sk_new');
    expect(events).toEqual(['STRIPE_SECRET_KEY changed poll']);
  });

  it('keeps the value in use when the new text is invalid or the file cannot be read, and says so once', async () => {
    let text: string | Error = 'sk_valid_1';
    const secret = secretAt('/f', 'sk_valid_1', (t) => {
      if (!t.startsWith('sk_')) throw new Error('expected a key starting with sk_');
      return t;
    });
    const { events, observer } = recorder();
    const files = new SecretFiles({
      secrets: [secret],
      observer,
      readText: async () => {
        if (text instanceof Error) throw text;
        return text;
      },
    });
    text = 'garbage';
    expect(await files.check('SIGHUP')).toEqual([{ variable: 'STRIPE_SECRET_KEY', outcome: 'invalid' }]);
    expect(secret.current()).toBe('sk_valid_1');
    text = Object.assign(new Error('gone'), { code: 'ENOENT' });
    await files.check('poll');
    await files.check('poll');
    expect(secret.current()).toBe('sk_valid_1');
    text = 'sk_valid_2\n';
    await files.check('poll');
    expect(secret.current()).toBe('sk_valid_2');
    expect(events).toEqual([
      'STRIPE_SECRET_KEY invalid SIGHUP: expected a key starting with sk_',
      'STRIPE_SECRET_KEY unreadable poll: ENOENT',
      'STRIPE_SECRET_KEY changed poll',
    ]);
    expect(events.join('\n')).not.toContain('garbage');
  });

  it('runs one check at a time: callers during a check share the next one', async () => {
    let reads = 0;
    let release: (() => void) | undefined;
    const files = new SecretFiles({
      secrets: [secretAt('/f', 'a-value')],
      readText: async () => {
        reads += 1;
        if (reads === 1) await new Promise<void>((r) => (release = r));
        return 'a-value';
      },
    });
    const first = files.check('manual');
    const second = files.check('SIGHUP');
    const third = files.check('poll');
    await until(() => release !== undefined);
    release?.();
    await Promise.all([first, second, third]);
    expect(second).toBe(third);
    expect(reads).toBe(2);
  });
});

describe('collectFileSecrets', () => {
  it('finds each file secret once, in nested objects and arrays, and leaves fixed ones and views out', () => {
    const a = secretAt('/a', 'aaaaaaaa');
    const b = secretAt('/b', 'bbbbbbbb');
    const found = collectFileSecrets(
      { x: { a, list: [b, a] }, fixed: fixedSecret('F', 'f'), view: a.map((v) => v.length) },
      { again: b },
    );
    expect(found).toEqual([a, b]);
  });
});
