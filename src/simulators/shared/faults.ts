// Fault injection shared by every provider simulator: ordered rules that add latency or replace the
// handler's answer with an error status, a connection reset, a hang, a truncated or a malformed body.

/** Which requests a rule applies to; every field that is set must match. */
export interface FaultMatch {
  /** HTTP method, case-insensitive. Default: any. */
  method?: string;
  /** Route template name, e.g. `GET /users/:id`. Requests that matched no route never match a rule that sets this. */
  route?: string;
  /** Request pathname without the query: a string must equal it exactly, a RegExp must test true. */
  path?: string | RegExp;
}

export interface FaultRule {
  /** Requests this rule applies to. Default: every request, including ones that match no route. */
  match?: FaultMatch;
  /** How many requests the rule is applied to before it expires; requests skipped by `probability` don't count. Default: unlimited. */
  times?: number;
  /** Chance (0..1) that a matching request is affected, i.e. an error rate. Default: 1. */
  probability?: number;
  /** Delay added before answering, in ms; delays of all applied rules add up. Default: 0. */
  latencyMs?: number;
  /** Extra delay drawn uniformly from [0, jitterMs) ms on top of `latencyMs`. Default: 0. */
  jitterMs?: number;
  /** Answer with this status instead of calling the handler (e.g. 503, or 429 with `headers`). */
  status?: number;
  /** Body of a `status`/`statusSequence` answer: object => JSON, string => raw. Default: `{error:{message}}` for status >= 400. */
  body?: unknown;
  /** Headers of a `status`/`statusSequence` answer, e.g. `{'retry-after': '2'}`. They are not added to handler answers. */
  headers?: Record<string, string>;
  /** Successive matching requests get these statuses in order; 200 or 0 lets the handler answer. The rule expires after the last entry. */
  statusSequence?: number[];
  /** Destroy the socket with a TCP reset before writing anything, or after writing the headers and half the body. */
  reset?: 'before-response' | 'after-headers';
  /** Never answer; the socket stays open until the client gives up or the simulator closes. */
  hang?: boolean;
  /** Send only the first half of the handler's body under a Content-Length of the whole, then end the socket. */
  truncate?: boolean;
  /** Answer 200 with `content-type: application/json` and a body that is not valid JSON; the handler is not called. */
  malformed?: boolean;
}

export interface FaultController {
  /** Appends a rule (rules are evaluated in the order added); throws if the rule is invalid. */
  add(rule: FaultRule): { remove(): void };
  /** Removes every rule. */
  clear(): void;
  /** Rules still in force, in evaluation order (expired rules are gone). */
  readonly active: readonly FaultRule[];
}

/** What the simulator knows about a request when it asks which faults apply. */
export interface FaultTarget {
  method: string;
  route: string | undefined;
  path: string;
}

/** The terminal effect chosen for one request; `handler` means a sequence entry let the handler answer. */
export type FaultOutcome =
  | { kind: 'status'; status: number; body: unknown; headers: Record<string, string> }
  | { kind: 'handler' }
  | { kind: 'reset'; when: 'before-response' | 'after-headers' }
  | { kind: 'hang' }
  | { kind: 'truncate' }
  | { kind: 'malformed' };

export interface FaultDecision {
  /** Total delay to add before answering, in ms. */
  delayMs: number;
  /** Terminal effect, or undefined to let the handler answer normally. */
  outcome: FaultOutcome | undefined;
}

/** The controller plus the decision step the simulator runs on each request. */
export interface FaultEngine extends FaultController {
  /**
   * Applies the rules to one request. A rule applies when it matches, wins its `probability` roll and
   * (if it has a terminal effect) no earlier rule has already decided; an applied rule adds its
   * latency, consumes one of its `times` and may expire. Rules that don't apply are left untouched.
   */
  decide(target: FaultTarget): FaultDecision;
}

export interface FaultEngineOptions {
  /** Source of uniform [0, 1) numbers for `probability` and `jitterMs`; inject one for deterministic tests. Default: Math.random. */
  random?: () => number;
}

interface RuleState {
  readonly rule: FaultRule;
  remaining: number;
  sequenceIndex: number;
}

const RESET_WHEN = new Set(['before-response', 'after-headers']);

export function createFaultEngine(opts: FaultEngineOptions = {}): FaultEngine {
  const random = opts.random ?? Math.random;
  let states: RuleState[] = [];

  const remove = (state: RuleState): void => {
    states = states.filter((s) => s !== state);
  };

  return {
    add(rule) {
      validateRule(rule);
      const state: RuleState = { rule, remaining: rule.times ?? Number.POSITIVE_INFINITY, sequenceIndex: 0 };
      states.push(state);
      return { remove: () => remove(state) };
    },
    clear() {
      states = [];
    },
    get active() {
      return states.map((s) => s.rule);
    },
    decide(target) {
      let delayMs = 0;
      let outcome: FaultOutcome | undefined;
      for (const state of [...states]) {
        const { rule } = state;
        if (!matches(rule.match, target)) continue;
        const terminal = hasTerminalEffect(rule);
        if (terminal && outcome !== undefined) continue;
        if (rule.probability !== undefined && rule.probability < 1 && !(random() < rule.probability))
          continue;

        delayMs += (rule.latencyMs ?? 0) + (rule.jitterMs ? random() * rule.jitterMs : 0);
        if (terminal) outcome = outcomeOf(state);
        state.remaining -= 1;
        const sequenceDone =
          rule.statusSequence !== undefined && state.sequenceIndex >= rule.statusSequence.length;
        if (state.remaining <= 0 || sequenceDone) remove(state);
      }
      return { delayMs, outcome };
    },
  };
}

function outcomeOf(state: RuleState): FaultOutcome {
  const { rule } = state;
  if (rule.hang) return { kind: 'hang' };
  if (rule.reset !== undefined) return { kind: 'reset', when: rule.reset };
  if (rule.truncate) return { kind: 'truncate' };
  if (rule.malformed) return { kind: 'malformed' };
  let status = rule.status;
  if (rule.statusSequence !== undefined) {
    status = rule.statusSequence[state.sequenceIndex];
    state.sequenceIndex += 1;
  }
  if (status === undefined || status === 0 || status === 200) return { kind: 'handler' };
  return { kind: 'status', status, body: rule.body, headers: { ...rule.headers } };
}

function matches(match: FaultMatch | undefined, target: FaultTarget): boolean {
  if (match === undefined) return true;
  if (match.method !== undefined && match.method.toUpperCase() !== target.method.toUpperCase()) return false;
  if (match.route !== undefined && match.route !== target.route) return false;
  if (match.path !== undefined) {
    if (typeof match.path === 'string' ? match.path !== target.path : !match.path.test(target.path)) {
      return false;
    }
  }
  return true;
}

function terminalEffects(rule: FaultRule): string[] {
  const effects: string[] = [];
  if (rule.status !== undefined) effects.push('status');
  if (rule.statusSequence !== undefined) effects.push('statusSequence');
  if (rule.reset !== undefined) effects.push('reset');
  if (rule.hang) effects.push('hang');
  if (rule.truncate) effects.push('truncate');
  if (rule.malformed) effects.push('malformed');
  return effects;
}

function hasTerminalEffect(rule: FaultRule): boolean {
  return terminalEffects(rule).length > 0;
}

function isHttpStatus(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) >= 100 && (value as number) <= 599;
}

function isNonNegative(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function validateRule(rule: FaultRule): void {
  const fail = (what: string, got: unknown): never => {
    throw new TypeError(`invalid fault rule: ${what}, but got: ${String(got)}`);
  };
  if (typeof rule !== 'object' || rule === null) fail('expected an object', rule);
  const effects = terminalEffects(rule);
  if (effects.length > 1) fail('expected at most one terminal effect', effects.join(' + '));
  if (rule.times !== undefined && !(Number.isInteger(rule.times) && rule.times >= 1)) {
    fail('times must be an integer >= 1', rule.times);
  }
  if (rule.probability !== undefined && !(isNonNegative(rule.probability) && rule.probability <= 1)) {
    fail('probability must be a number in [0, 1]', rule.probability);
  }
  if (rule.latencyMs !== undefined && !isNonNegative(rule.latencyMs)) {
    fail('latencyMs must be a finite number >= 0', rule.latencyMs);
  }
  if (rule.jitterMs !== undefined && !isNonNegative(rule.jitterMs)) {
    fail('jitterMs must be a finite number >= 0', rule.jitterMs);
  }
  if (rule.status !== undefined && !isHttpStatus(rule.status)) {
    fail('status must be an integer HTTP status 100..599', rule.status);
  }
  if (rule.statusSequence !== undefined) {
    const seq = rule.statusSequence;
    if (!Array.isArray(seq) || seq.length === 0 || !seq.every((s) => s === 0 || isHttpStatus(s))) {
      fail(
        'statusSequence must be a non-empty array of HTTP statuses (0 or 200 = handler)',
        JSON.stringify(seq),
      );
    }
  }
  if (rule.reset !== undefined && !RESET_WHEN.has(rule.reset)) {
    fail("reset must be 'before-response' or 'after-headers'", rule.reset);
  }
}

/**
 * Reads process-level default faults, e.g. for `npm start` demo mode: `<prefix>LATENCY_MS`,
 * `<prefix>JITTER_MS` (a latency rule for every request), `<prefix>ERROR_RATE` (0..1) and
 * `<prefix>ERROR_STATUS` (default 503; ignored unless the rate is above 0). Unset or empty
 * variables are ignored; malformed values throw, naming the variable.
 * @param prefix variable prefix; a missing trailing `_` is added. Default `SIM_`.
 */
export function faultRulesFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  prefix = 'SIM_',
): FaultRule[] {
  const p = prefix === '' || prefix.endsWith('_') ? prefix : `${prefix}_`;
  const latencyMs = readEnvNumber(env, `${p}LATENCY_MS`, 0, Number.POSITIVE_INFINITY);
  const jitterMs = readEnvNumber(env, `${p}JITTER_MS`, 0, Number.POSITIVE_INFINITY);
  const errorRate = readEnvNumber(env, `${p}ERROR_RATE`, 0, 1);
  const errorStatus = readEnvNumber(env, `${p}ERROR_STATUS`, 100, 599);
  if (errorStatus !== undefined && !Number.isInteger(errorStatus)) {
    throw new TypeError(`${p}ERROR_STATUS must be an integer HTTP status, but got: ${errorStatus}`);
  }

  const rules: FaultRule[] = [];
  if (latencyMs || jitterMs) rules.push({ latencyMs: latencyMs ?? 0, jitterMs: jitterMs ?? 0 });
  if (errorRate !== undefined && errorRate > 0) {
    rules.push({ probability: errorRate, status: errorStatus ?? 503 });
  }
  return rules;
}

function readEnvNumber(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new TypeError(`${name} must be a number in [${min}, ${max}], but got: ${JSON.stringify(raw)}`);
  }
  return value;
}
