// Layers only look down, and only the registry names a provider: read from the source itself, so
// an upward import or a provider named in shared code fails here rather than in review.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '../../../src');

/** Rank of each part of src/ (files directly in src/ are the composition root, above everything). */
const RANK: Record<string, number> = {
  'configSchema.ts': 0,
  'secrets.ts': 0, // a leaf: the Secret handle every layer may carry
  models: 0,
  upstream: 1,
  observability: 2,
  accounts: 2,
  providers: 3,
  state: 1,
  webhooks: 4,
  graphql: 5,
  generated: 5, // graphql-codegen's output, part of the GraphQL layer
  cli: 7, // entry points, like main.ts
};
const ROOT_RANK = 7;
/** Simulators stand alone: they import only each other; only these files may load them. */
// demo.ts and the cluster tool start the simulators (through the registry; types from shared/).
const MAY_IMPORT_SIMULATORS = new Set(['providers/registry.ts', 'demo.ts', 'cli/cluster/cluster.ts']);

function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [relative(SRC, path)] : [];
  });
}

function partOf(file: string): string {
  return file.includes('/') ? (file.split('/')[0] as string) : file;
}

function rankOf(file: string): number {
  const part = partOf(file);
  if (part === 'simulators') return -1;
  if (!file.includes('/')) return RANK[file] ?? ROOT_RANK;
  const rank = RANK[part];
  if (rank === undefined) throw new Error(`layers.test: src/${part}/ has no rank; give it one`);
  return rank;
}

function importsOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), 'utf8');
  const targets = [...text.matchAll(/from '(\.[^']+)'|import\('(\.[^']+)'\)/g)].map((m) => m[1] ?? m[2]);
  return targets
    .filter((t): t is string => t !== undefined)
    .map((t) => normalize(join(dirname(file), t)).replace(/\.js$/, '.ts'));
}

describe('layers', () => {
  const files = sourceFiles();

  it('finds the source (a broken walk must not pass for a clean one)', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(files).toContain('providers/registry.ts');
  });

  it('only look down: no file imports from a layer above its own', () => {
    const upward: string[] = [];
    for (const file of files) {
      for (const target of importsOf(file)) {
        if (partOf(target) === partOf(file)) continue;
        if (partOf(target) === 'simulators') {
          if (!MAY_IMPORT_SIMULATORS.has(file))
            upward.push(`${file} -> ${target} (simulators are loaded by the registry only)`);
          continue;
        }
        if (partOf(file) === 'simulators') {
          upward.push(`${file} -> ${target} (a simulator stands alone)`);
          continue;
        }
        if (rankOf(target) > rankOf(file)) upward.push(`${file} -> ${target}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('reports an upward import when there is one (the check itself works)', () => {
    expect(rankOf('webhooks/routes.ts')).toBeLessThan(rankOf('graphql/context.ts'));
    expect(rankOf('upstream/client.ts')).toBeLessThan(rankOf('providers/registry.ts'));
    expect(rankOf('app.ts')).toBe(ROOT_RANK);
  });
});

/** Names each provider is known by in code: its folder names and its configuration prefix. */
const PROVIDER_NAMES: Record<string, RegExp> = {
  users: /(providers|simulators)\/users\b|\bUSERS_[A-Z]|\bUsers(Client|Simulator)\b|['"]users['"]/,
  stripe: /stripe/i,
  twilio: /twilio/i,
  sendgrid: /sendgrid/i,
  github: /github/i,
};

/**
 * Where a provider's name may appear besides its own folders, and why: the users service's own
 * wire field `stripe_customer_id` (its contract names the billing provider), and SendGrid's
 * signature headers, which SendGrid (a Twilio company) names `x-twilio-email-event-webhook-*`.
 */
const EXEMPT: Record<string, string[]> = {
  stripe: ['providers/users/types.ts', 'providers/users/mapping.ts', 'simulators/users/seed.ts'],
  twilio: [
    'providers/sendgrid/webhooks.ts',
    'providers/sendgrid/webhookSignature.ts',
    'simulators/sendgrid/webhooks.ts',
  ],
};

function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
}

describe('the registry is the one list of providers', () => {
  it('no file outside a provider’s folders and the registry names it', () => {
    const found: Record<string, string[]> = {};
    for (const file of sourceFiles()) {
      if (file.startsWith('generated/') || file === 'providers/registry.ts') continue;
      const code = withoutComments(readFileSync(join(SRC, file), 'utf8'));
      for (const [provider, pattern] of Object.entries(PROVIDER_NAMES)) {
        if (file.startsWith(`providers/${provider}/`) || file.startsWith(`simulators/${provider}/`)) continue;
        if (EXEMPT[provider]?.includes(file)) continue;
        if (pattern.test(code)) found[provider] = [...(found[provider] ?? []), file];
      }
    }
    expect(found).toEqual({});
  });

  it('the registry names every provider that has a folder', () => {
    const registry = readFileSync(join(SRC, 'providers/registry.ts'), 'utf8');
    const folders = readdirSync(join(SRC, 'providers'), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders.length).toBeGreaterThanOrEqual(4);
    for (const folder of folders) expect(registry).toContain(`./${folder}/module.js`);
  });
});
