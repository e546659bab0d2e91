// The two engines connected accounts run on, for tests: PGlite in a temporary directory, and the
// local PostgreSQL (127.0.0.1:5432) with a database created for this run (junction_test_<random>)
// and dropped afterwards. No other database is touched.
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { openPglite, openPostgres, type Sql } from '../../../../src/accounts/database.js';

export const ENGINES = ['pglite', 'postgres'] as const;
export type Engine = (typeof ENGINES)[number];

/** Where the test databases are created. Override with JUNCTION_TEST_PG_ADMIN_URL. */
const ADMIN_URL = process.env.JUNCTION_TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  engine: Engine;
  /** The PostgreSQL URL of the test database (postgres only). */
  url: string | undefined;
  /** The PGlite directory (pglite only). */
  dir: string | undefined;
  /** A new connection (pool) to the same database. PGlite allows one open at a time. */
  open(): Promise<Sql>;
  /** Drops the database or removes the directory. */
  drop(): Promise<void>;
}

const root = resolve(import.meta.dirname, '../../../..');

/**
 * A new, empty PGlite data directory at `dir` (created), copied from a template initialised once
 * per PGlite version under node_modules/.cache: initdb in WebAssembly costs seconds of CPU, a copy
 * a fraction of one. The template is made in a directory of its own and renamed into place, so
 * test files starting together agree on one.
 */
export async function freshPgliteDir(dir: string): Promise<string> {
  const version = (
    JSON.parse(readFileSync(join(root, 'node_modules/@electric-sql/pglite/package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  const template = join(root, 'node_modules/.cache', `junction-pglite-template-${version}`);
  if (!existsSync(template)) {
    mkdirSync(dirname(template), { recursive: true });
    const making = mkdtempSync(`${template}.partial-`);
    const sql = await openPglite(making);
    await sql.close();
    try {
      renameSync(making, template);
    } catch {
      rmSync(making, { recursive: true, force: true }); // another file made it first
    }
  }
  cpSync(template, dir, { recursive: true });
  return dir;
}

export async function createTestDatabase(engine: Engine): Promise<TestDatabase> {
  if (engine === 'pglite') {
    const dir = await freshPgliteDir(mkdtempSync(join(tmpdir(), 'junction-pglite-')));
    return {
      engine,
      url: undefined,
      dir,
      open: () => openPglite(dir),
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const name = `junction_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    engine,
    url: url.href,
    dir: undefined,
    open: () => openPostgres({ connectionString: url.href }),
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
