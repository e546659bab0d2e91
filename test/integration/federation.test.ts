// Junction as a federated subgraph: its SDL composes with another subgraph (@apollo/composition),
// a gateway (@apollo/gateway) serves the supergraph, and a query crossing both subgraphs costs
// Junction one users batch for 100 User references.
import { composeServices } from '@apollo/composition';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import { batchCalls, type Harness, startHarness } from '../helpers/harness.js';

const ORDERS_SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
  type Order @key(fields: "id") {
    id: ID!
    totalCents: Int!
    buyer: User!
  }
  type User @key(fields: "id", resolvable: false) {
    id: ID!
  }
  type Query {
    orders: [Order!]!
  }
`;

const orders = Array.from({ length: 100 }, (_, i) => ({
  id: `ord_${i + 1}`,
  totalCents: 1000 + i,
  buyer: { __typename: 'User', id: `usr_${String(i + 1).padStart(4, '0')}` },
}));

const stops: Array<() => Promise<void>> = [];
let h: Harness | undefined;
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await h?.close();
  h = undefined;
});

async function startOrders(): Promise<string> {
  const server = new ApolloServer({
    schema: buildSubgraphSchema([
      {
        typeDefs: parse(ORDERS_SDL),
        resolvers: { Query: { orders: () => orders } },
      },
    ]),
  });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
  stops.push(() => server.stop());
  return url;
}

describe('federation', () => {
  it('serves its subgraph SDL, composes with another subgraph, and resolves 100 references in one batch', async () => {
    h = await startHarness();
    const sdl = (await h.gql('{ _service { sdl } }')).body.data._service.sdl as string;
    expect(sdl).toMatch(/type User\s+@key\(fields: "id"\)/);

    const ordersUrl = await startOrders();
    const composed = composeServices([
      { name: 'junction', typeDefs: parse(sdl), url: `${h.url}/graphql` },
      { name: 'orders', typeDefs: parse(ORDERS_SDL), url: ordersUrl },
    ]);
    expect(composed.errors ?? []).toEqual([]);
    const gateway = new ApolloGateway({
      supergraphSdl: composed.supergraphSdl!,
      buildService: ({ url }) =>
        new RemoteGraphQLDataSource<{ authorization?: string }>({
          url,
          // Header propagation: the client's bearer token goes on to Junction.
          willSendRequest({ request, context }) {
            if (context.authorization) request.http?.headers.set('authorization', context.authorization);
          },
        }),
    });
    const router = new ApolloServer({ gateway });
    const { url: routerUrl } = await startStandaloneServer(router, {
      listen: { port: 0, host: '127.0.0.1' },
      context: async ({ req }) => ({ authorization: req.headers.authorization }),
    });
    stops.push(() => router.stop());

    h.users.resetCounters();
    const res = await fetch(routerUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await h.adminToken()}` },
      body: JSON.stringify({ query: '{ orders { id totalCents buyer { id name email } } }' }),
    });
    const body = (await res.json()) as any;
    expect(body.errors).toBeUndefined();
    expect(body.data.orders).toHaveLength(100);
    expect(body.data.orders[41]).toEqual({
      id: 'ord_42',
      totalCents: 1041,
      buyer: { id: 'usr_0042', name: expect.any(String), email: expect.stringContaining('@') },
    });
    const calls = batchCalls(h.users);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.query.get('ids')!.split(',')).toHaveLength(100);

    // Authorization holds through the router: without a token, Junction's fields fail alone.
    const anonymous = await fetch(routerUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ orders { id buyer { name } } }' }),
    });
    const anon = (await anonymous.json()) as any;
    expect(JSON.stringify(anon.errors)).toContain('UNAUTHENTICATED');
  });

  it('resolves Payment entities for their owner and refuses them to others', async () => {
    h = await startHarness();
    const own = [...h.stripe.paymentIntents.values()].find((p) => p.metadata?.user_id === 'usr_0001')!;
    const query =
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on Payment { id status amount { amount } } } }';
    const reps = { r: [{ __typename: 'Payment', id: own.id }] };
    const owner = await h.gql(query, { variables: reps, token: await h.token('usr_0001') });
    expect(owner.body.data._entities[0]).toMatchObject({ id: own.id, amount: { amount: own.amount } });
    const other = await h.gql(query, { variables: reps, token: await h.token('usr_0002') });
    expect(other.body.errors![0].extensions.code).toBe('FORBIDDEN');
  });
});
