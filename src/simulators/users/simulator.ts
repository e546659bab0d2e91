// Simulator of the internal users service: an OAuth2 client-credentials token endpoint whose bearer
// tokens really expire (tokens.ts), and the /users routes (by id, batch by ids, cursor pages) over
// seeded data (lookup.ts).
import type { ProviderSimulatorOptions, Simulator } from '../shared/simulator.js';
import { createSimulator } from '../shared/simulator.js';
import type { SimRequest, SimResponse } from '../shared/wire.js';
import type { UserTable } from './lookup.js';
import { getUser, listUsers } from './lookup.js';
import type { SimUserRecord } from './seed.js';
import { seedUsers } from './seed.js';
import { createTokenService } from './tokens.js';

export interface UsersSimulatorOptions extends ProviderSimulatorOptions {
  /** Number of seeded users `usr_0001`..; 0 starts empty. Default: 1000. */
  seedCount?: number;
  /** OAuth2 client id accepted by `POST /oauth/token`. Default: `junction-demo`. */
  clientId?: string;
  /** OAuth2 client secret accepted by `POST /oauth/token`. Default: `demo-secret`. */
  clientSecret?: string;
  /** Lifetime of issued tokens in whole seconds (>= 1), checked against the wall clock at use. Default: 3600. */
  tokenTtlSeconds?: number;
  /** Most ids one `GET /users?ids=` may ask for; more is a 400 `too_many_ids`. Default: 100. */
  maxIds?: number;
}

export interface UsersSimulator extends Simulator {
  /** The live user table keyed by `user_id`; tests may add or delete entries. */
  readonly users: Map<string, SimUserRecord>;
  readonly credentials: { readonly clientId: string; readonly clientSecret: string };
  /** Tokens issued since creation or the last `resetCounters()`. */
  tokensIssued(): number;
  /** Makes every token issued so far invalid, as if it had expired; new tokens work. */
  expireTokens(): void;
  /** Same effect as `expireTokens()` (the service reports both as `invalid_token`). */
  revokeTokens(): void;
  /** Lifetime of tokens issued from now on, in whole seconds (>= 1). */
  setTokenTtl(seconds: number): void;
  /** Accepts another client secret beside the current ones (rotation: add the new, then remove the old). */
  addClientSecret(secret: string): void;
  /** Stops accepting a client secret; tokens already issued with it stay valid until they expire. */
  removeClientSecret(secret: string): void;
}

/** Route names, for counters and fault matching. */
export const USERS_ROUTES = {
  token: 'POST /oauth/token',
  userById: 'GET /users/:id',
  users: 'GET /users',
} as const;

export function createUsersSimulator(opts: UsersSimulatorOptions = {}): UsersSimulator {
  const credentials = {
    clientId: opts.clientId ?? 'junction-demo',
    clientSecret: opts.clientSecret ?? 'demo-secret',
  } as const;
  const table: UserTable = {
    users: new Map(seedUsers(opts.seedCount ?? 1000).map((u) => [u.user_id, u])),
    maxIds: opts.maxIds ?? 100,
  };
  const tokens = createTokenService({ credentials, ttlSeconds: opts.tokenTtlSeconds ?? 3600 }); // 1h
  /** The user routes answer 401 unless the request carries a valid, unexpired token. */
  const authorized =
    (handler: (table: UserTable, req: SimRequest) => SimResponse) =>
    (req: SimRequest): SimResponse =>
      tokens.reject(req) ?? handler(table, req);

  const sim = createSimulator({
    name: 'users',
    host: opts.host,
    port: opts.port,
    etag: true,
    faults: opts.faults,
    routes: [
      { method: 'POST', path: '/oauth/token', handler: (req) => tokens.issue(req) },
      { method: 'GET', path: '/users/:id', handler: authorized(getUser) },
      { method: 'GET', path: '/users', handler: authorized(listUsers) },
    ],
    onReset: () => tokens.resetIssued(),
  });

  const own: Omit<UsersSimulator, keyof Simulator> = {
    users: table.users,
    credentials,
    tokensIssued: () => tokens.issued(),
    expireTokens: () => tokens.expireAll(),
    revokeTokens: () => tokens.expireAll(),
    setTokenTtl: (seconds) => tokens.setTtl(seconds),
    addClientSecret: (secret) => tokens.addClientSecret(secret),
    removeClientSecret: (secret) => tokens.removeClientSecret(secret),
  };
  return Object.assign(sim, own);
}
