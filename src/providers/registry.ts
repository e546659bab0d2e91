// The one list of providers. Configuration, service construction, demo mode, the GraphQL context,
// webhook intake, health and the test harness iterate it; no other file names a provider.
// Adding a provider: its folder (module.ts and the rest), its simulator's folder (demo.ts), one
// line in PROVIDERS and one in SIMULATORS.
import { githubModule } from './github/module.js';
import type { AnyProviderModule, ProviderModule } from './module.js';
import { sendgridModule } from './sendgrid/module.js';
import { stripeModule } from './stripe/module.js';
import { twilioModule } from './twilio/module.js';
import { usersModule } from './users/module.js';

export const PROVIDERS = [usersModule, stripeModule, twilioModule, sendgridModule, githubModule] as const;

type Modules = (typeof PROVIDERS)[number];
export type ProviderName = Modules['name'];

/**
 * Each provider's simulator, imported only when demo mode or a test starts one: production never
 * loads simulator code. (Providers never import simulators; this map is the one bridge.)
 */
export const SIMULATORS = {
  users: () => import('../simulators/users/demo.js'),
  stripe: () => import('../simulators/stripe/demo.js'),
  twilio: () => import('../simulators/twilio/demo.js'),
  sendgrid: () => import('../simulators/sendgrid/demo.js'),
  github: () => import('../simulators/github/demo.js'),
} satisfies Record<ProviderName, () => Promise<unknown>>;

type ClientOf<M> =
  M extends ProviderModule<string, string, infer _C, infer _S, infer Client> ? Client : never;
type LoadersOf<M> =
  M extends ProviderModule<string, string, infer _C, infer _S, infer _Client, infer L> ? L : never;
type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void
  ? I
  : never;

/** The module serving a capability, with its own literal types (e.g. the GraphQL names it declares). */
export type ModuleFor<Capability extends Modules['capability']> = Extract<
  Modules,
  { capability: Capability }
>;

/** The process-wide clients by capability (`directory`, `billing`, `sms`, `email`, `codeHosting`). */
export type Services = { [M in Modules as M['capability']]: ClientOf<M> };

/** The same clients by provider name. */
export type Clients = { [M in Modules as M['name']]: ClientOf<M> };

/** The per-operation loaders every module contributes, merged. */
export type ProviderLoaders = UnionToIntersection<LoadersOf<Modules>>;

/** The registry as plain modules, for code that iterates without caring about types. */
export const providerModules: readonly AnyProviderModule[] = PROVIDERS;
