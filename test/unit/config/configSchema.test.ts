// The declarative config engine: one variable list gives values, defaults, messages and README rows.
import { describe, expect, it } from 'vitest';
import {
  configTable,
  createSource,
  custom,
  decimal,
  flag,
  integer,
  list,
  oneOf,
  readSection,
  secret,
  text,
  url,
} from '../../../src/configSchema.js';

const fields = {
  timeoutMs: integer('DEMO_TIMEOUT_MS', {
    min: 1,
    max: 60_000,
    default: 5_000,
    unit: 'ms',
    doc: 'Per-attempt limit.',
  }),
  ratio: decimal('DEMO_RATIO', { min: 0, max: 1, exclusiveMin: true, default: 0.5, doc: 'A share.' }),
  on: flag('DEMO_ON', { default: false, doc: 'Turns it on.' }),
  level: oneOf('DEMO_LEVEL', ['info', 'warn', 'error'] as const, { default: 'info', doc: 'Level.' }),
  name: text('DEMO_NAME', { doc: 'Optional name.' }),
  base: url('DEMO_BASE', { default: 'https://api.example.com', doc: 'Base URL.' }),
  key: secret('DEMO_KEY', { min: 8, doc: 'The key.' }),
  delayMs: integer('DEMO_DELAY_MS', {
    min: 0,
    max: 600_000,
    unit: 'ms',
    default: ({ isProduction }) => (isProduction ? 5_000 : 0),
    defaultDoc: '`5000` ms in production, `0` elsewhere',
    doc: 'Readiness delay.',
  }),
  ids: list('DEMO_IDS', {
    default: [],
    expected: 'comma-separated ids',
    item: (p) => (/^[a-z]+$/.test(p) ? p : undefined),
    doc: 'Ids.',
  }),
  port: custom('DEMO_PORT', {
    default: 80,
    expected: 'a port',
    parse: (raw) => (/^\d+$/.test(raw) && Number(raw) < 65536 ? Number(raw) : undefined),
    doc: 'A port.',
  }),
};

function read(env: Record<string, string>, isProduction = false, files: Record<string, string> = {}) {
  const source = createSource(env, { isProduction }, (path) => {
    const content = files[path];
    if (content === undefined) throw new Error('ENOENT');
    return content;
  });
  return { values: readSection(fields, source), problems: source.problems };
}

describe('declarative config', () => {
  it('gives every default, including mode-dependent ones, when nothing is set', () => {
    expect(read({}).values).toEqual({
      timeoutMs: 5_000,
      ratio: 0.5,
      on: false,
      level: 'info',
      name: undefined,
      base: 'https://api.example.com',
      key: undefined,
      delayMs: 0,
      ids: [],
      port: 80,
    });
    expect(read({}, true).values.delayMs).toBe(5_000);
  });

  it('parses given values', () => {
    const { values, problems } = read({
      DEMO_TIMEOUT_MS: '250',
      DEMO_RATIO: '1',
      DEMO_ON: 'yes',
      DEMO_LEVEL: 'warn',
      DEMO_NAME: 'x',
      DEMO_BASE: 'http://127.0.0.1:9',
      DEMO_KEY: 'k'.repeat(8),
      DEMO_IDS: 'a, b,,c',
      DEMO_PORT: '8080',
    });
    expect(problems).toEqual([]);
    expect(values).toMatchObject({
      timeoutMs: 250,
      ratio: 1,
      on: true,
      level: 'warn',
      name: 'x',
      base: 'http://127.0.0.1:9',
      key: 'kkkkkkkk',
      ids: ['a', 'b', 'c'],
      port: 8080,
    });
  });

  it('names every bad variable with what was expected, and never echoes a secret', () => {
    const { problems } = read({
      DEMO_TIMEOUT_MS: '0',
      DEMO_RATIO: '0',
      DEMO_ON: 'maybe',
      DEMO_LEVEL: 'loud',
      DEMO_BASE: 'ftp://x',
      DEMO_KEY: 'short-secret',
      DEMO_IDS: 'a,B',
      DEMO_PORT: '99999',
    });
    expect(problems).toEqual([
      'DEMO_TIMEOUT_MS: expected milliseconds 1..60000, got "0"',
      'DEMO_RATIO: expected a number in (0, 1], got "0"',
      'DEMO_ON: expected true or false, got "maybe"',
      'DEMO_LEVEL: expected one of info, warn or error, got "loud"',
      'DEMO_BASE: expected an http(s) URL, got "ftp://x"',
      'DEMO_IDS: expected comma-separated ids, got "a,B"',
      'DEMO_PORT: expected a port, got "99999"',
    ]);
    expect(read({ DEMO_KEY: 'short' }).problems).toEqual(['DEMO_KEY: expected at least 8 bytes']);
    expect(read({ DEMO_TIMEOUT_MS: '1.5' }).problems[0]).toContain('DEMO_TIMEOUT_MS');
  });

  it('reads a secret from <NAME>_FILE, and says when the file cannot be read', () => {
    expect(read({ DEMO_KEY_FILE: '/run/key' }, false, { '/run/key': 'from-a-file\n' }).values.key).toBe(
      'from-a-file',
    );
    expect(read({ DEMO_KEY_FILE: '/missing' }).problems).toEqual([
      'DEMO_KEY_FILE: cannot read the file it names',
    ]);
    // Only secrets read files.
    expect(read({ DEMO_NAME_FILE: '/run/key' }, false, { '/run/key': 'x' }).values.name).toBeUndefined();
  });

  it('renders the README table from the same list', () => {
    const table = configTable([{ title: 'Demo', fields }]);
    expect(table).toContain('| `DEMO_TIMEOUT_MS` | Per-attempt limit. | `5000` ms |');
    expect(table).toContain('| `DEMO_KEY` (or `DEMO_KEY_FILE`) | The key. | unset |');
    expect(table).toContain(
      '| `DEMO_DELAY_MS` | Readiness delay. | `5000` ms in production, `0` elsewhere |',
    );
    expect(table.split('\n')).toHaveLength(2 + 1 + Object.keys(fields).length);
  });

  it('refuses a mode-dependent default without its README text, and a badly named variable', () => {
    expect(() => integer('X_MS', { min: 0, max: 1, default: () => 0, doc: 'x' })).toThrow(/defaultDoc/);
    expect(() => flag('lower_case', { default: true, doc: 'x' })).toThrow(/UPPER_SNAKE_CASE/);
  });
});
