// The metrics' operation-name budget (200 labels) cannot be filled by junk: anonymous operations
// and operations the edge refused do not claim names; a signed-in viewer's real operation still does.
import { afterEach, expect, it } from 'vitest';
import { type Harness, startHarness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

it('keeps operation-name labels for operations that passed the edge, from signed-in viewers', async () => {
  h = await startHarness({ env: { GRAPHQL_MAX_COST: '10' } });
  for (let i = 0; i < 200; i += 1) {
    expect((await h.gql(`query Anon${i} { _junction }`, { token: null })).status).toBe(200);
    expect((await h.gql(`query Costly${i} { users(first: 50) { nodes { id } } }`)).status).toBe(400);
  }
  expect((await h.gql('query Real { _junction }')).status).toBe(200);
  const text = await (await fetch(`${h.url}/metrics`)).text();
  const labels = new Set(
    [...text.matchAll(/junction_graphql_operations_total\{operation="([^"]+)"/g)].map((m) => m[1]),
  );
  expect(labels).toEqual(new Set(['other', 'Real']));
});
