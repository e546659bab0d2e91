// migrate.ts on both engines: versioned SQL applied once, in one transaction under an advisory
// lock (replicas starting together apply it once), a failed migration leaves nothing behind.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sql } from '../../../src/accounts/database.js';
import { loadMigrations, migrate } from '../../../src/accounts/migrate.js';
import { createTestDatabase, ENGINES, type TestDatabase } from './support/databases.js';

const tables = async (sql: Sql) =>
  (
    await sql.query<{ name: string }>(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    )
  ).rows.map((r) => r.name);

describe('loadMigrations', () => {
  it('reads NNN_name.sql files in order and refuses a version used twice', async () => {
    const shipped = await loadMigrations();
    expect(shipped.map((m) => `${m.version}:${m.name}`)).toEqual([
      '1:connected_accounts',
      '2:flow_redirect_and_account_lookup',
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'junction-migrations-'));
    try {
      writeFileSync(join(dir, '002_b.sql'), 'SELECT 2;');
      writeFileSync(join(dir, '001_a.sql'), 'SELECT 1;');
      writeFileSync(join(dir, 'notes.txt'), 'ignored');
      expect((await loadMigrations(dir)).map((m) => m.name)).toEqual(['a', 'b']);
      writeFileSync(join(dir, '002_c.sql'), 'SELECT 3;');
      await expect(loadMigrations(dir)).rejects.toThrow('version 2 appears twice');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.each(ENGINES)('migrate on %s', (engine) => {
  let db: TestDatabase;
  let sql: Sql;
  beforeAll(async () => {
    db = await createTestDatabase(engine);
    sql = await db.open();
  }, 60_000); // a cold PGlite directory takes seconds on a busy machine
  afterAll(async () => {
    await sql?.close();
    await db?.drop();
  });

  it('applies the shipped migrations once', async () => {
    expect(await migrate(sql)).toEqual([1, 2]);
    expect(await tables(sql)).toEqual(['connected_accounts', 'oauth_states', 'schema_migrations']);
    expect(await migrate(sql)).toEqual([]);
  });

  it('applies a new version after the known ones, and refuses a renamed one', async () => {
    const shipped = await loadMigrations();
    const next = { version: 3, name: 'extra', sql: 'CREATE TABLE extra_test (id int);' };
    expect(await migrate(sql, [...shipped, next])).toEqual([3]);
    await expect(migrate(sql, [...shipped, { ...next, name: 'renamed' }])).rejects.toThrow(
      'version 3 was applied as extra, but the file is now renamed',
    );
  });

  it('rolls a failing migration back whole: its first statement and its version are not kept', async () => {
    const shipped = await loadMigrations();
    const broken = {
      version: 4,
      name: 'broken',
      sql: 'CREATE TABLE half_done (id int); SELECT no_such_column FROM half_done;',
    };
    await expect(migrate(sql, [...shipped, broken])).rejects.toThrow();
    expect(await tables(sql)).not.toContain('half_done');
    const { rows } = await sql.query<{ v: number }>('SELECT version AS v FROM schema_migrations ORDER BY 1');
    expect(rows.map((r) => r.v)).toEqual([1, 2, 3]);
  });
});

describe('migrate from replicas starting together (PostgreSQL)', () => {
  it('applies each migration once; the others wait for the lock and find it done', async () => {
    const db = await createTestDatabase('postgres');
    const pools = await Promise.all([db.open(), db.open(), db.open()]);
    try {
      const applied = await Promise.all(pools.map((p) => migrate(p)));
      expect(applied.flat()).toEqual([1, 2]);
      expect(await tables(pools[0]!)).toContain('connected_accounts');
    } finally {
      await Promise.all(pools.map((p) => p.close()));
      await db.drop();
    }
  });
});
