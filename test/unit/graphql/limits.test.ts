// operationCost: what the cost limit and the client budget count, on the real schema.
import { buildSchema, type FragmentDefinitionNode, Kind, type OperationDefinitionNode, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { operationCost } from '../../../src/graphql/limits.js';

// The shapes that matter to the cost, as Junction's schema has them (connections with a default
// `first`, federation's `_entities` over a union of entities).
const schema = buildSchema(`
  scalar _Any
  type Money { amount: Int! currency: String! }
  type Payment { id: ID! status: String! amount: Money! }
  type PaymentConnection { nodes: [Payment!]! }
  type User { id: ID! name: String! email: String! payments(first: Int = 10, after: String): PaymentConnection }
  type UserConnection { nodes: [User!]! }
  union _Entity = User | Payment
  type Query {
    users(first: Int = 20, after: String): UserConnection
    _entities(representations: [_Any!]!): [_Entity]!
  }
`);

function cost(source: string, variables: Record<string, unknown> = {}, ceiling?: number): number {
  const document = parse(source);
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  )!;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions)
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  return operationCost(schema, operation, fragments, variables, ceiling);
}

describe('operationCost', () => {
  it('multiplies a connection’s contents by `first`, given inline, by a variable, or by default', () => {
    const shape = (first: string) => `{ users(first: ${first}) { nodes { id } } }`;
    expect(cost(shape('5'))).toBe(1 + 5 * 2);
    expect(cost('query($n: Int) { users(first: $n) { nodes { id } } }', { n: 5 })).toBe(11);
    expect(cost('query($n: Int = 7) { users(first: $n) { nodes { id } } }')).toBe(1 + 7 * 2);
    // Not sent, no default: the resolver pages by the argument's own default (20).
    expect(cost('query($n: Int) { users(first: $n) { nodes { id } } }')).toBe(1 + 20 * 2);
    expect(cost('{ users { nodes { id } } }')).toBe(1 + 20 * 2);
    // A value that will not coerce still counts (with the defaults of the others).
    expect(cost('query($n: Int = 7, $s: Int) { users(first: $n) { nodes { id } } }', { s: 'x' })).toBe(15);
  });

  it('counts _entities per representation by the fragment of its type', () => {
    const query =
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id name } ... on Payment { id status amount { amount } } } }';
    const reps = [
      ...Array.from({ length: 3 }, (_, i) => ({ __typename: 'User', id: `u${i}` })),
      ...Array.from({ length: 2 }, (_, i) => ({ __typename: 'Payment', id: `p${i}` })),
    ];
    // 1 + 3 * (id + name) + 2 * (id + status + amount { amount })
    expect(cost(query, { r: reps })).toBe(1 + 3 * 2 + 2 * 4);
    // Inline representations, and one of an unknown type costing every fragment.
    expect(
      cost(
        '{ _entities(representations: [{ __typename: "Payment", id: "p" }, { id: "?" }]) { ... on User { id } ... on Payment { id status } } }',
      ),
    ).toBe(1 + 2 + 3);
    // Fragment spreads are applied by type too.
    expect(
      cost(
        'query($r: [_Any!]!) { _entities(representations: $r) { ...U ...P } } fragment U on User { id name email } fragment P on Payment { id }',
        { r: [{ __typename: 'Payment', id: 'p' }] },
      ),
    ).toBe(2);
  });

  it('stops counting past the ceiling', () => {
    const huge = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id } } }';
    const reps = Array.from({ length: 100_000 }, (_, i) => ({ __typename: 'User', id: `u${i}` }));
    expect(cost(huge, { r: reps }, 10_000)).toBeGreaterThan(10_000);
  });
});
