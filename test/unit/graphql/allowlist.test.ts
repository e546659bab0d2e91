// A persisted query manifest that cannot be used stops startup with one line: the variable, the
// file and the first problem (never a dump of validation internals).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type AllowlistError, isAllowlistError, loadAllowlist } from '../../../src/graphql/allowlist.js';

const body = 'query Me { me { id } }';
const id = createHash('sha256').update(body).digest('hex');
const manifest = (operations: unknown) =>
  JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations });
const load = (text: string) => loadAllowlist('/etc/junction/manifest.json', () => text);

function problemOf(text: string): string {
  try {
    load(text);
  } catch (error) {
    expect(isAllowlistError(error)).toBe(true);
    return (error as AllowlistError).message;
  }
  throw new Error('expected an AllowlistError');
}

describe('loadAllowlist', () => {
  it('reads a manifest into id -> body', () => {
    expect([...load(manifest([{ id, name: 'Me', type: 'query', body }]))]).toEqual([[id, body]]);
  });

  it.each([
    ['not JSON', '{ nope', /not JSON/],
    [
      'another format',
      JSON.stringify({ format: 'relay', version: 1, operations: [] }),
      /^GRAPHQL_ALLOWLIST.*format: /,
    ],
    [
      'a bad id',
      manifest([{ id: 'abc', body }]),
      /operations\[0\]\.id: expected 64 lowercase hex characters/,
    ],
    [
      'an id that is not the body’s hash',
      manifest([{ id: '0'.repeat(64), body }]),
      /operations\[0\] .*not the sha256/,
    ],
    ['no body', manifest([{ id }]), /operations\[0\]\.body: /],
  ])('names the variable, the file and the first problem for %s', (_case, text, problem) => {
    const message = problemOf(text);
    expect(message).toMatch(/^GRAPHQL_ALLOWLIST \(\/etc\/junction\/manifest\.json\): /);
    expect(message).toMatch(problem);
    expect(message.split('\n')).toHaveLength(1);
  });

  it('says so when the file cannot be read', () => {
    expect(() =>
      loadAllowlist('/nowhere.json', () => {
        throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
      }),
    ).toThrow('GRAPHQL_ALLOWLIST (/nowhere.json): cannot read the file (ENOENT)');
  });
});
