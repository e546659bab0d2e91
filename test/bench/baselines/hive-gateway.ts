// Baseline 4: Hive Gateway (the GraphQL Mesh runtime) over OpenAPI descriptions of the simulators
// (hive/*.openapi.json). The supergraph is composed at startup with Mesh Compose: the users and
// Stripe REST APIs become subgraphs, `User.billing` / `User.payments` / `users(first)` are joined
// with `@resolveTo`, and `name` is a gateway resolver. Same shape, same simulators, same auth
// (OAuth token fetched at startup, Stripe bearer key, client JWT checked before the gateway).
import { createServer, globalAgent, type Agent as HttpAgent } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGatewayRuntime } from '@graphql-hive/gateway-runtime';
import { createRenameFieldTransform, getComposedSchemaFromConfig } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';
import { Agent, setGlobalDispatcher } from 'undici';
import { failStartup, serveParent } from '../lib/child.js';
import { env, usersTokenSource, verifyClient, type WireUser } from './shared.js';

const here = join(dirname(fileURLToPath(import.meta.url)), 'hive');

/** Mesh's wrapper types get the GraphQL names the scenarios query. */
const renames: Record<string, Record<string, string>> = {
  UserPage: { data: 'nodes' },
  PaymentIntentList: { data: 'nodes' },
  User: { user_id: 'id', email_address: 'email' },
};
const rename = createRenameFieldTransform(
  ({ typeName, fieldName }) => renames[typeName]?.[fieldName] ?? fieldName,
);

const quietLogger: any = {
  log: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (...args: unknown[]) => process.stderr.write(`${args.map(String).join(' ')}\n`),
  child: () => quietLogger,
};

// Hive Gateway's upstream timeout leaves AbortSignal.timeout() reasons rejected with no handler once
// a request has finished (seen here with 2.12.1): Node would exit on the first one. Count them and
// keep serving, as a production process with an unhandledRejection handler would.
let unhandledRejections = 0;
let lastRejection = '';
process.on('unhandledRejection', (reason) => {
  unhandledRejections += 1;
  lastRejection = reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
});

async function main(): Promise<void> {
  // The same per-origin socket cap every system gets, whichever HTTP client the gateway picks.
  setGlobalDispatcher(new Agent({ connections: env.connections, keepAliveTimeout: 30_000 }));
  globalAgent.maxSockets = env.connections;
  (globalAgent as HttpAgent & { keepAlive?: boolean }).keepAlive = true;

  // Operation headers are interpolated from the environment at run time.
  process.env.BENCH_USERS_TOKEN = await usersTokenSource()();
  const supergraph = await getComposedSchemaFromConfig(
    {
      cwd: here,
      subgraphs: [
        {
          sourceHandler: loadOpenAPISubgraph('Users', {
            source: './users.openapi.json',
            endpoint: '{env.USERS_API_URL}',
            operationHeaders: { Authorization: 'Bearer {env.BENCH_USERS_TOKEN}' },
          }),
          transforms: [rename],
        },
        {
          sourceHandler: loadOpenAPISubgraph('Stripe', {
            source: './stripe.openapi.json',
            endpoint: '{env.STRIPE_API_BASE}',
            operationHeaders: { Authorization: 'Bearer {env.STRIPE_SECRET_KEY}' },
          }),
          transforms: [rename],
        },
      ],
      additionalTypeDefs: /* GraphQL */ `
        extend type Query {
          user(id: ID!): User
            @resolveTo(sourceName: "Users", sourceTypeName: "Query", sourceFieldName: "userById",
                       sourceArgs: { id: "{args.id}" })
          users(first: Int = 20): UserPage
            @resolveTo(sourceName: "Users", sourceTypeName: "Query", sourceFieldName: "listUsers",
                       sourceArgs: { limit: "{args.first}" })
        }
      `,
    },
    quietLogger,
  );

  const gateway = createGatewayRuntime({
    supergraph,
    additionalTypeDefs:
      'extend type User { name: String! billing: Customer payments(first: Int = 10): PaymentIntentList }',
    // The joins are gateway resolvers delegating to the Stripe subgraph. (`@resolveTo` joins, tried
    // first, batch all users' lookups into one subgraph operation, and a single user without a Stripe
    // customer — a null key — then fails every user's billing in it.)
    additionalResolvers: {
      User: {
        name: {
          selectionSet: '{ first_name last_name }',
          resolve: (u: WireUser) => `${u.first_name} ${u.last_name}`.trim(),
        },
        billing: {
          selectionSet: '{ stripe_customer_id }',
          resolve: (u: WireUser, _args: unknown, context: any, info: any) =>
            u.stripe_customer_id
              ? context.Stripe.Query.retrieveCustomer({
                  root: u,
                  args: { id: u.stripe_customer_id },
                  context,
                  info,
                })
              : null,
        },
        payments: {
          selectionSet: '{ stripe_customer_id }',
          resolve: (u: WireUser, args: { first: number }, context: any, info: any) =>
            u.stripe_customer_id
              ? context.Stripe.Query.listPaymentIntents({
                  root: u,
                  args: { customer: u.stripe_customer_id, limit: args.first },
                  context,
                  info,
                })
              : { nodes: [] },
        },
      },
    },
    upstreamTimeout: env.timeoutMs,
    landingPage: false,
    graphiql: false,
    logging: false,
  });

  const server = createServer((req, res) => {
    verifyClient(req.headers.authorization).then(
      () => gateway(req, res),
      () => {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"errors":[{"message":"Invalid bearer token","extensions":{"code":"UNAUTHENTICATED"}}]}');
      },
    );
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  serveParent(
    { url: `http://127.0.0.1:${port}` },
    {
      clearCache: () => true,
      setCold: (m) => m.on === true,
      stats: () => ({ rss: process.memoryUsage().rss, unhandledRejections, lastRejection }),
    },
    async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await gateway.dispose();
    },
  );
}

main().catch(failStartup);
