// Versioned SQL migrations (migrations/NNN_name.sql), applied in order at startup inside one
// transaction that holds a PostgreSQL advisory lock, so replicas starting together apply each
// migration once and none starts on a half-migrated schema. The same files run on PGlite.
import { readdir, readFile } from 'node:fs/promises';
import type { Sql } from './database.js';

/** Advisory lock key of the migrations (any constant unique to this application: "junction" in ASCII). */
export const MIGRATION_LOCK_KEY = 0x6a756e6374696f6en;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const FILE = /^(\d{3})_([a-z0-9_]+)\.sql$/;

/** The migrations shipped beside this module, in version order. */
export async function loadMigrations(
  dir: URL | string = new URL('./migrations/', import.meta.url),
): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => FILE.test(f)).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const [, version = '', name = ''] = FILE.exec(file) ?? [];
    const path = typeof dir === 'string' ? `${dir}/${file}` : new URL(file, dir);
    migrations.push({ version: Number(version), name, sql: await readFile(path, 'utf8') });
  }
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]?.version === migrations[i - 1]?.version)
      throw new Error(`migrations: version ${migrations[i]?.version} appears twice`);
  }
  return migrations;
}

/**
 * Applies the migrations `sql` has not seen yet. Returns the versions applied now. A version applied
 * before under another name is an error (the files were renumbered): nothing is applied then.
 */
export async function migrate(sql: Sql, migrations?: Migration[]): Promise<number[]> {
  const all = migrations ?? (await loadMigrations());
  return sql.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    await tx.exec(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version    integer     PRIMARY KEY,
         name       text        NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await tx.query<{ version: number; name: string }>(
      'SELECT version, name FROM schema_migrations',
    );
    const applied = new Map(rows.map((r) => [r.version, r.name]));
    const now: number[] = [];
    for (const migration of all) {
      const seen = applied.get(migration.version);
      if (seen !== undefined) {
        if (seen !== migration.name)
          throw new Error(
            `migrations: version ${migration.version} was applied as ${seen}, but the file is now ${migration.name}`,
          );
        continue;
      }
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
      now.push(migration.version);
    }
    return now;
  });
}
