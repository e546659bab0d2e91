// Re-reads secrets given as files (`*_FILE`) when they may have changed: on a change in their
// directory (fs.watch on the directory, not the file, so an atomic rename or Kubernetes' `..data`
// symlink swap is seen), on a poll every few seconds (watchers miss events on some filesystems:
// network mounts, some container overlays), and on demand (SIGHUP). Contents are compared, never
// modification times (a Kubernetes secret update keeps them). An unreadable or invalid file keeps
// the value in use.
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Metrics } from './observability/metrics.js';
import { type FileSecret, isSecret, isSecretValueError, type OfferOutcome } from './secrets.js';

/** What started a check: a directory event, the poll, or a signal/admin request. */
export type ReloadTrigger = 'watch' | 'poll' | 'SIGHUP' | 'manual';

export interface SecretFilesObserver {
  /** The file's new value is in use. */
  changed(secret: FileSecret<unknown>, trigger: ReloadTrigger): void;
  /** The file holds a value that does not validate: the current value stays. `problem` never holds the value. */
  invalid(secret: FileSecret<unknown>, problem: string, trigger: ReloadTrigger): void;
  /** The file cannot be read (reported once until it can be again): the current value stays. */
  unreadable(secret: FileSecret<unknown>, code: string, trigger: ReloadTrigger): void;
}

export interface SecretFilesOptions {
  secrets: readonly FileSecret<unknown>[];
  /** Poll period in ms. Default 5000 ms. Trap: 0 turns the poll off and leaves only the watcher and SIGHUP. */
  pollIntervalMs?: number;
  /** Quiet time after a directory event before reading, in ms (a writer's several events make one read). Default 50 ms. */
  debounceMs?: number;
  observer?: SecretFilesObserver | undefined;
  /** Reads a file as text. Default: fs.promises.readFile (follows symlinks). */
  readText?: (path: string) => Promise<string>;
}

export interface CheckResult {
  variable: string;
  outcome: OfferOutcome | 'unreadable';
}

export class SecretFiles {
  readonly secrets: readonly FileSecret<unknown>[];
  private readonly watchers: FSWatcher[] = [];
  private poll: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<CheckResult[]> | undefined;
  private again: Promise<CheckResult[]> | undefined;
  private readonly failing = new Set<FileSecret<unknown>>();
  private readonly readText: (path: string) => Promise<string>;
  private closed = false;

  constructor(private readonly options: SecretFilesOptions) {
    this.secrets = options.secrets;
    this.readText = options.readText ?? ((path) => readFile(path, 'utf8'));
  }

  /** Starts watching the files' directories and polling. Does nothing without file secrets. */
  start(): void {
    if (this.secrets.length === 0 || this.closed) return;
    for (const dir of new Set(this.secrets.map((s) => dirname(s.file)))) {
      try {
        const watcher = watch(dir, { persistent: false }, () => this.scheduleCheck());
        // A directory that goes away (an unmounted volume) leaves the poll in charge.
        watcher.on('error', () => watcher.close());
        this.watchers.push(watcher);
      } catch {
        // Not watchable here (missing, or no inotify): the poll and SIGHUP still work.
      }
    }
    const pollMs = this.options.pollIntervalMs ?? 5_000; // 5 s
    if (pollMs > 0) {
      this.poll = setInterval(() => void this.check('poll'), pollMs);
      this.poll.unref();
    }
  }

  /**
   * Reads every file and takes what changed. Checks never overlap: one asked for while another
   * runs starts when it ends (and callers meanwhile share it), so no change is missed.
   */
  check(trigger: ReloadTrigger): Promise<CheckResult[]> {
    if (this.closed) return Promise.resolve([]);
    if (!this.running) {
      this.running = this.checkAll(trigger).finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    const next = () => {
      this.again = undefined;
      return this.check(trigger);
    };
    this.again ??= this.running.then(next, next);
    return this.again;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.poll);
    clearTimeout(this.debounce);
    for (const watcher of this.watchers) watcher.close();
    this.watchers.length = 0;
  }

  private scheduleCheck(): void {
    if (this.closed) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.check('watch'), this.options.debounceMs ?? 50);
    this.debounce.unref();
  }

  private async checkAll(trigger: ReloadTrigger): Promise<CheckResult[]> {
    const observer = this.options.observer;
    return Promise.all(
      this.secrets.map(async (secret): Promise<CheckResult> => {
        let text: string;
        try {
          text = (await this.readText(secret.file)).trim();
        } catch (error) {
          if (!this.failing.has(secret)) {
            this.failing.add(secret);
            observer?.unreadable(secret, (error as NodeJS.ErrnoException).code ?? 'EIO', trigger);
          }
          return { variable: secret.variable, outcome: 'unreadable' };
        }
        this.failing.delete(secret);
        try {
          const outcome = secret.offer(text);
          if (outcome === 'changed') observer?.changed(secret, trigger);
          return { variable: secret.variable, outcome };
        } catch (error) {
          if (!isSecretValueError(error)) throw error;
          observer?.invalid(secret, error.problem, trigger);
          return { variable: secret.variable, outcome: 'invalid' };
        }
      }),
    );
  }
}

/**
 * Every file secret reachable from `roots` (plain objects and arrays, e.g. the config and the
 * provider endpoints), each once. Derived views (`map`) are skipped: their source is what is read.
 */
export function collectFileSecrets(...roots: unknown[]): FileSecret<unknown>[] {
  const found = new Set<FileSecret<unknown>>();
  const seen = new Set<object>();
  const visit = (value: unknown): void => {
    if (typeof value !== 'object' || value === null || seen.has(value)) return;
    seen.add(value);
    if (isSecret(value)) {
      if (value.file !== undefined && 'offer' in value) found.add(value as FileSecret<unknown>);
      return;
    }
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return; // class instances: not config
    for (const item of Object.values(value)) visit(item);
  };
  for (const root of roots) visit(root);
  return [...found];
}

/** One log line per change, naming the variable and never the value, and a metric per outcome. */
export function reportSecretChanges(
  logger: Pick<Logger, 'info' | 'error'>,
  metrics?: Pick<Metrics, 'secretReload'>,
): SecretFilesObserver {
  return {
    changed(secret, trigger) {
      metrics?.secretReload(secret.variable, 'changed');
      logger.info(
        { secret: secret.variable, file: secret.file, trigger, version: secret.version },
        `${secret.variable} changed: new requests use the new value`,
      );
    },
    invalid(secret, problem, trigger) {
      metrics?.secretReload(secret.variable, 'invalid');
      logger.error(
        { secret: secret.variable, file: secret.file, trigger, problem },
        `${secret.variable}: the file's new value is not valid; still using the previous one`,
      );
    },
    unreadable(secret, code, trigger) {
      metrics?.secretReload(secret.variable, 'unreadable');
      logger.error(
        { secret: secret.variable, file: secret.file, trigger, code },
        `${secret.variable}: the file cannot be read; still using the previous value`,
      );
    },
  };
}
