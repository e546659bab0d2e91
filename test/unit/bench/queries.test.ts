// The bench's check of byIds answers: an error-free answer with another user's record is wrong.
import { describe, expect, it } from 'vitest';
import { silentlyWrong } from '../../bench/lib/queries.js';

const ids = ['usr_0001', 'usr_0002', 'usr_0001'];
const user = (id: string) => ({ id, name: 'x', billing: null, payments: { nodes: [] } });

describe('silentlyWrong', () => {
  it('passes an answer that names every user asked for, in its slot', () => {
    const json = { data: { u0: user('usr_0001'), u1: user('usr_0002'), u2: user('usr_0001') } };
    expect(silentlyWrong(ids, { status: 200, json })).toBe(false);
  });

  it("flags another user's record, or none, in a slot of an error-free answer", () => {
    const swapped = { data: { u0: user('usr_0001'), u1: user('usr_0001'), u2: user('usr_0001') } };
    const missing = { data: { u0: user('usr_0001'), u1: null, u2: user('usr_0001') } };
    expect(silentlyWrong(ids, { status: 200, json: swapped })).toBe(true);
    expect(silentlyWrong(ids, { status: 200, json: missing })).toBe(true);
    expect(silentlyWrong(ids, { status: 200, json: { data: null } })).toBe(true);
  });

  it('leaves answers with errors to the error count', () => {
    expect(silentlyWrong(ids, { status: 200, json: { data: null, errors: [{ message: 'x' }] } })).toBe(false);
    expect(silentlyWrong(ids, { status: 401, json: {} })).toBe(false);
  });
});
