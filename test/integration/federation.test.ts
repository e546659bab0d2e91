// Junction as a federated subgraph, in production mode, under two routers (@apollo/gateway and Hive
// Gateway): the router reads the SDL with ROUTER_SECRET, a plain user gets their own User and a
// null plus an error for someone else's, and 100 references cost one users batch. At the subgraph
// itself: every `_entities` representation is checked and authorized on its own, and `_service`
// answers only the router and admins in production, over HTTP and the WebSocket alike.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { createGatewayRuntime } from '@graphql-hive/gateway-runtime';
import httpTransport from '@graphql-mesh/transport-http';
import { composeServices } from '@theguild/federation-composition';
import { parse } from 'graphql';
import { createClient } from 'graphql-ws';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { NO_SUCH_ENTITY_MESSAGE, ROUTER_SECRET_HEADER } from '../../src/graphql/federation.js';
import { batchCalls, type Harness, startHarness } from '../helpers/harness.js';

const ROUTER_SECRET = 'router-secret-for-the-federation-test-0123456789';

const PRODUCTION_ENV = {
  NODE_ENV: 'production',
  JWT_SECRET: 'a-production-secret-that-is-long-enough-1234',
  STRIPE_SECRET_KEY: 'sk_test_config_only',
  STRIPE_WEBHOOK_SECRET: 'whsec_config_only',
  GITHUB_WEBHOOK_SECRET: 'github_config_only',
  TWILIO_ACCOUNT_SID: 'AC00000000000000000000000000000000',
  TWILIO_AUTH_TOKEN: 'config-only',
  TWILIO_FROM_NUMBER: '+15005550006',
  PUBLIC_BASE_URL: 'https://junction.example.com',
  SENDGRID_API_KEY: 'SG.config-only',
  SENDGRID_FROM_EMAIL: 'noreply@example.com',
  SENDGRID_WEBHOOK_PUBLIC_KEY:
    'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEkBP93U+to8skDfqHs69p9iz5jQ/MwTLUdd/qaaYkFYcVeMXLTdz1YHGuEVE83chBKwGdLTM1PgA8dpf9NbXzQ==',
  DATABASE_URL: 'postgres://junction@127.0.0.1:5432/junction', // config only: nothing connects yet
  TOKEN_ENCRYPTION_KEYS: 'k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
  ROUTER_SECRET,
};

// `buyer` is nullable, so a refused User nulls only the buyer, not the order or the list.
const ORDERS_SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
  type Order @key(fields: "id") {
    id: ID!
    totalCents: Int!
    buyer: User
  }
  type User @key(fields: "id", resolvable: false) {
    id: ID!
  }
  type Query {
    orders: [Order!]!
    "Two orders: one bought by usr_0001, one by usr_0002."
    featuredOrders: [Order!]!
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
  for (const stop of stops.splice(0).reverse()) await stop();
  await h?.close();
  h = undefined;
});

async function startOrders(): Promise<string> {
  const server = new ApolloServer({
    schema: buildSubgraphSchema([
      {
        typeDefs: parse(ORDERS_SDL),
        resolvers: { Query: { orders: () => orders, featuredOrders: () => orders.slice(0, 2) } },
      },
    ]),
    plugins: [ApolloServerPluginInlineTraceDisabled()],
  });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
  stops.push(() => server.stop());
  return url;
}

/** @apollo/gateway: reads each subgraph's SDL (`_service`) with the router secret, then composes. */
async function startApolloGateway(junctionUrl: string, ordersUrl: string): Promise<string> {
  const gateway = new ApolloGateway({
    supergraphSdl: new IntrospectAndCompose({
      subgraphs: [
        { name: 'junction', url: `${junctionUrl}/graphql` },
        { name: 'orders', url: ordersUrl },
      ],
      introspectionHeaders: { [ROUTER_SECRET_HEADER]: ROUTER_SECRET },
    }),
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
  const { url } = await startStandaloneServer(router, {
    listen: { port: 0, host: '127.0.0.1' },
    context: async ({ req }) => ({ authorization: req.headers.authorization }),
  });
  stops.push(() => router.stop());
  return url;
}

/** Hive Gateway: the supergraph composed by The Guild's composition from SDL read with the secret. */
async function startHiveGateway(junctionUrl: string, ordersUrl: string): Promise<string> {
  const sdlResponse = await fetch(`${junctionUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [ROUTER_SECRET_HEADER]: ROUTER_SECRET },
    body: JSON.stringify({ query: '{ _service { sdl } }' }),
  });
  const sdl = ((await sdlResponse.json()) as any).data._service.sdl as string;
  const composed = composeServices([
    { name: 'junction', typeDefs: parse(sdl), url: `${junctionUrl}/graphql` },
    { name: 'orders', typeDefs: parse(ORDERS_SDL), url: ordersUrl },
  ]);
  expect(composed.errors ?? []).toEqual([]);
  const gateway = createGatewayRuntime({
    supergraph: composed.supergraphSdl!,
    logging: false,
    // The runtime would import it by name on first use; handing it over keeps the dependency visible.
    transports: { http: httpTransport },
    // Header propagation: the client's bearer token goes on to Junction.
    propagateHeaders: {
      fromClientToSubgraphs: ({ request }) => ({ authorization: request.headers.get('authorization') }),
    },
  });
  const server = createServer(gateway);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stops.push(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await gateway.dispose();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
}

/** Every user id Junction asked the users service for, batch or single. */
function fetchedUserIds(harness: Harness): string[] {
  return batchCalls(harness.users).flatMap((c) =>
    c.query.has('ids') ? c.query.get('ids')!.split(',') : [c.path.split('/').pop()!],
  );
}

async function post(url: string, query: string, token?: string): Promise<{ data?: any; errors?: any[] }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as { data?: any; errors?: any[] };
}

describe.each([
  ['@apollo/gateway', startApolloGateway],
  ['Hive Gateway', startHiveGateway],
])('under %s', (_name, startRouter) => {
  it('gives a plain user their own User and a null with an error for a foreign one, the rest intact', async () => {
    h = await startHarness({ env: PRODUCTION_ENV });
    const routerUrl = await startRouter(h.url, await startOrders());
    h.users.resetCounters();
    const body = await post(
      routerUrl,
      '{ featuredOrders { id totalCents buyer { id name email } } }',
      await h.token('usr_0001'),
    );
    expect(body.data).toEqual({
      featuredOrders: [
        {
          id: 'ord_1',
          totalCents: 1000,
          buyer: { id: 'usr_0001', name: expect.any(String), email: expect.stringContaining('@') },
        },
        { id: 'ord_2', totalCents: 1001, buyer: null },
      ],
    });
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0].extensions.code).toBe('FORBIDDEN');
    // Only the viewer's own user was fetched: the foreign reference was refused before any call.
    expect(fetchedUserIds(h)).toEqual(['usr_0001']);
  });

  it('resolves 100 references for an admin in one users batch, and passes no token on for nobody', async () => {
    h = await startHarness({ env: PRODUCTION_ENV });
    const routerUrl = await startRouter(h.url, await startOrders());
    h.users.resetCounters();
    const body = await post(
      routerUrl,
      '{ orders { id totalCents buyer { id name email } } }',
      await h.adminToken(),
    );
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
    const anonymous = await post(routerUrl, '{ featuredOrders { id buyer { name } } }');
    expect(anonymous.data?.featuredOrders).toEqual([
      { id: 'ord_1', buyer: null },
      { id: 'ord_2', buyer: null },
    ]);
    expect(anonymous.errors!.map((e) => e.extensions.code)).toContain('UNAUTHENTICATED');
  });
});

const ENTITIES =
  'query($r: [_Any!]!) { _entities(representations: $r) { __typename ... on User { id email } ... on Payment { id } } }';

describe('_entities at the subgraph', () => {
  it('resolves and authorizes each representation on its own, errors at their own index', async () => {
    h = await startHarness();
    const own = [...h.stripe.paymentIntents.values()].find((p) => p.metadata?.user_id === 'usr_0001')!;
    const foreign = [...h.stripe.paymentIntents.values()].find((p) => p.metadata?.user_id === 'usr_0002')!;
    h.users.resetCounters();
    const res = await h.gql(ENTITIES, {
      token: await h.token('usr_0001'),
      variables: {
        r: [
          { __typename: 'User', id: 'usr_0001' },
          { __typename: 'User', id: 'usr_0002' },
          { __typename: 'Payment', id: own.id },
          { __typename: 'Payment', id: foreign.id },
          { __typename: 'NoSuchType', id: 'x' },
          { __typename: 'PageInfo', id: 'x' },
        ],
      },
    });
    expect(res.body.data._entities).toEqual([
      { __typename: 'User', id: 'usr_0001', email: expect.stringContaining('@') },
      null,
      { __typename: 'Payment', id: own.id },
      null,
      null,
      null,
    ]);
    const byIndex = Object.fromEntries(
      res.body.errors!.map((e: any) => [e.path.join('.'), { code: e.extensions.code, message: e.message }]),
    );
    expect(Object.keys(byIndex).sort()).toEqual(['_entities.1', '_entities.3', '_entities.4', '_entities.5']);
    expect(byIndex['_entities.1'].code).toBe('FORBIDDEN');
    expect(byIndex['_entities.3'].code).toBe('FORBIDDEN');
    // A type that is no entity is answered exactly like one that does not exist, naming neither.
    expect(byIndex['_entities.4']).toEqual({ code: 'NOT_FOUND', message: NO_SUCH_ENTITY_MESSAGE });
    expect(byIndex['_entities.5']).toEqual(byIndex['_entities.4']);
    expect(res.text).not.toContain('NoSuchType');
    expect(res.text).not.toContain('PageInfo');
    expect(fetchedUserIds(h)).toEqual(['usr_0001']);
  });

  it('answers a missing entity NOT_FOUND, and a missing payment to a plain user like a foreign one', async () => {
    h = await startHarness();
    const admin = await h.gql(ENTITIES, {
      variables: {
        r: [
          { __typename: 'User', id: 'usr_9999' },
          { __typename: 'Payment', id: 'pi_doesnotexist' },
        ],
      },
    });
    expect(admin.body.data._entities).toEqual([null, null]);
    const errors = [...admin.body.errors!].sort((a: any, b: any) => a.path[1] - b.path[1]);
    expect(errors.map((e: any) => [e.path, e.extensions.code, e.message])).toEqual([
      [['_entities', 0], 'NOT_FOUND', NO_SUCH_ENTITY_MESSAGE],
      [['_entities', 1], 'NOT_FOUND', NO_SUCH_ENTITY_MESSAGE],
    ]);
    const plain = await h.gql(ENTITIES, {
      token: await h.token('usr_0003'),
      variables: { r: [{ __typename: 'Payment', id: 'pi_doesnotexist' }] },
    });
    expect(plain.body.data._entities).toEqual([null]);
    expect(plain.body.errors![0].extensions.code).toBe('FORBIDDEN');
  });

  it('refuses malformed representations one by one, before any upstream call', async () => {
    h = await startHarness();
    h.users.resetCounters();
    const res = await h.gql(ENTITIES, {
      variables: {
        r: [
          { __typename: 'User' },
          { __typename: 'User', id: 42 },
          { __typename: 'User', id: { $ne: '' } },
          { __typename: 'User', id: 'u'.repeat(257) },
          'User',
          { __typename: 7, id: 'usr_0001' },
          { __typename: 'User', id: 'usr_0001' },
        ],
      },
    });
    expect(res.body.data._entities).toEqual([
      null,
      null,
      null,
      null,
      null,
      null,
      { __typename: 'User', id: 'usr_0001', email: expect.stringContaining('@') },
    ]);
    const codes = res.body
      .errors!.map((e: any) => [e.path[1], e.extensions.code])
      .sort((a: any, b: any) => a[0] - b[0]);
    expect(codes).toEqual([
      [0, 'BAD_USER_INPUT'],
      [1, 'BAD_USER_INPUT'],
      [2, 'BAD_USER_INPUT'],
      [3, 'BAD_USER_INPUT'],
      [4, 'BAD_USER_INPUT'],
      [5, 'NOT_FOUND'],
    ]);
    expect(fetchedUserIds(h)).toEqual(['usr_0001']);
  });

  it('refuses an anonymous caller per representation', async () => {
    h = await startHarness();
    const res = await h.gql(ENTITIES, {
      token: null,
      variables: { r: [{ __typename: 'User', id: 'usr_0001' }] },
    });
    expect(res.body.data._entities).toEqual([null]);
    expect(res.body.errors![0]).toMatchObject({
      path: ['_entities', 0],
      extensions: { code: 'UNAUTHENTICATED' },
    });
  });
});

describe('_service', () => {
  const SDL = '{ _service { sdl } }';

  it('answers anyone outside production', async () => {
    h = await startHarness();
    const res = await h.gql(SDL, { token: null });
    expect(res.body.data._service.sdl).toMatch(/type User\s+@key\(fields: "id"\)/);
  });

  it('in production answers admins and the router secret only', async () => {
    h = await startHarness({ env: PRODUCTION_ENV });
    const anonymous = await h.gql(SDL, { token: null });
    expect(anonymous.body.data).toBeNull();
    expect(anonymous.body.errors![0].extensions.code).toBe('UNAUTHENTICATED');
    const plain = await h.gql(SDL, { token: await h.token('usr_0002') });
    expect(plain.body.errors![0].extensions.code).toBe('FORBIDDEN');
    expect(plain.text).not.toContain('@key');
    const wrong = await h.gql(SDL, { token: null, headers: { [ROUTER_SECRET_HEADER]: `${ROUTER_SECRET}x` } });
    expect(wrong.body.errors![0].extensions.code).toBe('UNAUTHENTICATED');
    const tooLong = await h.gql(SDL, { token: null, headers: { [ROUTER_SECRET_HEADER]: 'x'.repeat(4096) } });
    expect(tooLong.body.errors![0].extensions.code).toBe('UNAUTHENTICATED');

    const router = await h.gql(SDL, { token: null, headers: { [ROUTER_SECRET_HEADER]: ROUTER_SECRET } });
    expect(router.body.data._service.sdl).toMatch(/type User\s+@key\(fields: "id"\)/);
    const admin = await h.gql(SDL, { token: await h.adminToken() });
    expect(admin.body.data._service.sdl).toBe(router.body.data._service.sdl);
    // The secret unlocks the SDL only, never a viewer's data.
    const me = await h.gql('{ me { id } }', {
      token: null,
      headers: { [ROUTER_SECRET_HEADER]: ROUTER_SECRET },
    });
    expect(me.body.errors![0].extensions.code).toBe('UNAUTHENTICATED');
  });

  it('in production without ROUTER_SECRET answers admins only, whatever header comes', async () => {
    const { ROUTER_SECRET: _unset, ...env } = PRODUCTION_ENV;
    h = await startHarness({ env });
    const router = await h.gql(SDL, { token: null, headers: { [ROUTER_SECRET_HEADER]: ROUTER_SECRET } });
    expect(router.body.errors![0].extensions.code).toBe('UNAUTHENTICATED');
    const admin = await h.gql(SDL, { token: await h.adminToken() });
    expect(admin.body.data._service.sdl).toContain('@key');
  });

  it('in production holds over the WebSocket too', async () => {
    h = await startHarness({ env: PRODUCTION_ENV });
    const run = async (token: string) => {
      const client = createClient({
        url: `${h!.url.replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${token}` },
        retryAttempts: 0,
      });
      try {
        const result: { data?: any; errors?: readonly any[] } = {};
        await new Promise<void>((resolve, reject) => {
          client.subscribe(
            { query: SDL },
            {
              next: (value) => Object.assign(result, value),
              error: (error) => {
                // graphql-ws hands execution errors to `error` as the list of GraphQL errors.
                if (Array.isArray(error)) {
                  result.errors = error;
                  resolve();
                } else reject(error);
              },
              complete: resolve,
            },
          );
        });
        return result;
      } finally {
        await client.dispose();
      }
    };
    const plain = await run(await h.token('usr_0002'));
    expect(plain.data?._service ?? null).toBeNull();
    expect(JSON.stringify(plain.errors)).toContain('The subgraph schema is only for the router and admins');
    const admin = await run(await h.adminToken());
    expect(admin.data._service.sdl).toContain('@key');
  });
});
