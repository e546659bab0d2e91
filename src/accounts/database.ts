// The SQL that connected accounts need, over two engines chosen by configuration: PostgreSQL
// through a node-postgres Pool (DATABASE_URL), or PGlite, PostgreSQL compiled to WebAssembly and
// run in-process on a local directory (the embedded default). The same SQL runs on both.
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import type { Pool, PoolClient } from 'pg';

export interface SqlResult<Row> {
  rows: Row[];
  /** Rows a DELETE/UPDATE/INSERT touched; rows returned for a SELECT. */
  rowCount: number;
}

/** What a query runs on: the database, or one transaction of it. */
export interface SqlExecutor {
  /** One statement, with `$1`-style parameters. */
  query<Row>(text: string, params?: readonly unknown[]): Promise<SqlResult<Row>>;
  /** Several statements, no parameters (migrations). */
  exec(text: string): Promise<void>;
}

export interface Sql extends SqlExecutor {
  readonly engine: 'postgres' | 'pglite';
  /**
   * Runs `fn` in a transaction on one connection: committed when it resolves, rolled back when it
   * throws. Row locks (`FOR UPDATE`) and transaction advisory locks are held until it ends.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface PostgresOptions {
  /** `postgres://user:password@host:port/database`. */
  connectionString: string;
  /** Connections in the pool. Default 10. */
  maxConnections?: number;
  /** Longest wait for a connection, in ms. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Called when an idle connection fails (the server restarted): the pool replaces it. */
  onIdleError?: (error: Error) => void;
}

/** PostgreSQL over a node-postgres Pool. */
export async function openPostgres(options: PostgresOptions): Promise<Sql> {
  const { default: pg } = await import('pg');
  const pool: Pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000, // 5 s
    application_name: 'junction',
  });
  // Without a listener an idle connection's error would crash the process.
  pool.on('error', (error) => options.onIdleError?.(error));
  const on = (client: Pool | PoolClient): SqlExecutor => ({
    async query<Row>(text: string, params: readonly unknown[] = []) {
      const result = await client.query(text, params as unknown[]);
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? result.rows.length };
    },
    async exec(text: string) {
      await client.query(text);
    },
  });
  return {
    engine: 'postgres',
    ...on(pool),
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await fn(on(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => {
          broken = rollbackError; // the connection is in an unknown state: do not reuse it
        });
        throw error;
      } finally {
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}

/**
 * PGlite on `dataDir` (created when missing). One process at a time may open a directory: a lock
 * file holding the owner's pid refuses a second one (two would corrupt it), and a lock left by a
 * process that died is taken over.
 */
export async function openPglite(dataDir: string): Promise<Sql> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const release = lockDirectory(join(dataDir, 'junction.pid'));
  let db: PGlite;
  try {
    const { PGlite } = await import('@electric-sql/pglite');
    db = await PGlite.create(dataDir);
  } catch (error) {
    release();
    throw error;
  }
  const on = (client: PGlite | Transaction): SqlExecutor => ({
    async query<Row>(text: string, params: readonly unknown[] = []) {
      const result = await client.query<Row>(text, params as unknown[]);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    async exec(text: string) {
      await client.exec(text);
    },
  });
  return {
    engine: 'pglite',
    ...on(db),
    // PGlite runs one transaction at a time; queries outside it wait for it to end.
    transaction: (fn) => db.transaction((tx) => fn(on(tx))),
    async close() {
      try {
        await db.close();
      } finally {
        release();
      }
    },
  };
}

/** Thrown when another live process has the PGlite directory open. */
export class DatabaseInUseError extends Error {
  readonly code = 'DATABASE_IN_USE';
  constructor(readonly lockFile: string) {
    super(
      `the embedded database is open in another process (see ${lockFile}); stop it first, or set DATABASE_URL to share PostgreSQL`,
    );
    this.name = 'DatabaseInUseError';
  }
}

export function isDatabaseInUseError(error: unknown): error is DatabaseInUseError {
  return error instanceof DatabaseInUseError;
}

function lockDirectory(lockFile: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          unlinkSync(lockFile);
        } catch {
          // Already gone.
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number.parseInt(readText(lockFile), 10);
      if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) throw new DatabaseInUseError(lockFile);
      unlinkQuietly(lockFile); // left by a process that died: take it over
    }
  }
  throw new DatabaseInUseError(lockFile);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone.
  }
}
