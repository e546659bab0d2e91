// Stripe's form-encoded parameters: `metadata[user_id]=u`, `payment_method_types[]=card` and
// `payment_method_types[0]=card` (what stripe-node sends) decoded into nested maps and lists.
import { invalidRequest, unknownParam } from './errors.js';

export type StripeParam = string | StripeParam[] | StripeParamMap;
export interface StripeParamMap {
  [key: string]: StripeParam;
}

/** Decodes a form body; a key used both as a value and as a container is a 400, like Stripe's. */
export function decodeStripeParams(form: URLSearchParams): StripeParamMap {
  const root: StripeParamMap = {};
  for (const [rawKey, value] of form) {
    const path = splitKey(rawKey);
    const top = path[0] ?? rawKey;
    let container: StripeParamMap | StripeParam[] = root;
    for (let i = 0; i < path.length; i++) {
      const segment = path[i] ?? '';
      const last = i === path.length - 1;
      const nextSegment = path[i + 1];
      const wantList = nextSegment !== undefined && (nextSegment === '' || /^\d+$/.test(nextSegment));
      if (last) {
        setChild(container, segment, value, top);
      } else {
        const existing = getChild(container, segment);
        if (existing === undefined) {
          const created: StripeParamMap | StripeParam[] = wantList ? [] : {};
          setChild(container, segment, created, top);
          container = created;
        } else if (typeof existing === 'string' || Array.isArray(existing) !== wantList) {
          throw invalidRequest(`Invalid ${wantList ? 'array' : 'hash'}`, { param: top });
        } else {
          container = existing;
        }
      }
    }
  }
  return compactLists(root) as StripeParamMap;
}

/** `a[b][0]` -> ['a', 'b', '0']; a key with unbalanced brackets stays whole. */
function splitKey(key: string): string[] {
  const open = key.indexOf('[');
  if (open <= 0 || !key.endsWith(']')) return [key];
  const parts = [key.slice(0, open)];
  const rest = key.slice(open);
  const re = /\[([^[\]]*)\]/g;
  let consumed = 0;
  for (let m = re.exec(rest); m !== null; m = re.exec(rest)) {
    if (m.index !== consumed) return [key];
    parts.push(m[1] ?? '');
    consumed = m.index + m[0].length;
  }
  return consumed === rest.length ? parts : [key];
}

function getChild(container: StripeParamMap | StripeParam[], segment: string): StripeParam | undefined {
  if (Array.isArray(container)) {
    // `[]` always appends a new element; `[3]` addresses position 3.
    return segment === '' ? undefined : container[Number(segment)];
  }
  return Object.hasOwn(container, segment) ? container[segment] : undefined;
}

function setChild(
  container: StripeParamMap | StripeParam[],
  segment: string,
  value: StripeParam,
  top: string,
): void {
  if (Array.isArray(container)) {
    if (segment === '') container.push(value);
    else if (/^\d+$/.test(segment) && Number(segment) < 10_000) container[Number(segment)] = value;
    else throw invalidRequest('Invalid array', { param: top });
    return;
  }
  if (Object.hasOwn(container, segment) && typeof value === 'string') {
    // Repeated scalar keys: the last one wins, as in Stripe's parser.
    if (typeof container[segment] !== 'string') throw invalidRequest('Invalid hash', { param: top });
  }
  container[segment] = value;
}

/** Drops holes left by sparse indices (`a[0]=x&a[2]=y` -> ['x', 'y']). */
function compactLists(value: StripeParam): StripeParam {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.filter((v) => v !== undefined).map(compactLists);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, compactLists(v)]));
}

/** A JSON text of `params` with keys sorted at every level: equal for equal parameters in any order. */
export function canonicalParams(params: StripeParam): string {
  const sort = (v: StripeParam): unknown => {
    if (typeof v === 'string') return v;
    if (Array.isArray(v)) return v.map(sort);
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sort(v[k] ?? '')]),
    );
  };
  return JSON.stringify(sort(params));
}

/** The scalar value of `name`, undefined when absent; a hash or array there is a 400. */
export function scalar(params: StripeParamMap, name: string): string | undefined {
  const value = params[name];
  if (value === undefined || typeof value === 'string') return value;
  throw invalidRequest(`Invalid string: ${Array.isArray(value) ? '[...]' : '{...}'}`, {
    code: 'parameter_invalid_string',
    param: name,
  });
}

/** A string-to-string map such as `metadata`; an empty string value means "unset" in Stripe. */
export function stringMap(params: StripeParamMap, name: string): Record<string, string> | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (value === '') return {};
  if (typeof value === 'string' || Array.isArray(value)) {
    throw invalidRequest('Invalid object', { param: name });
  }
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw invalidRequest('Invalid string', { param: `${name}[${key}]` });
    if (v !== '') out[key] = v;
  }
  if (Object.keys(out).length > 50) {
    throw invalidRequest(`Invalid ${name}: ${name} can have at most 50 keys.`, { param: name });
  }
  return out;
}

/** A list of strings such as `payment_method_types`. */
export function stringList(params: StripeParamMap, name: string): string[] | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw invalidRequest('Invalid array', { param: name });
  }
  return value as string[];
}

export function rejectUnknown(params: StripeParamMap, allowed: ReadonlySet<string>): void {
  for (const key of Object.keys(params)) {
    if (!allowed.has(key)) throw unknownParam(key);
  }
}

/** A missing or empty string is Stripe's way of leaving a field unset: null. */
export function emptyToNull(value: string | undefined): string | null {
  return value === undefined || value === '' ? null : value;
}

/** An optional string parameter: null when absent or empty. */
export function optionalString(params: StripeParamMap, name: string): string | null {
  return emptyToNull(scalar(params, name));
}

/** An optional email address such as `email` or `receipt_email`; a malformed one is a 400 `email_invalid`. */
export function optionalEmail(params: StripeParamMap, name: string): string | null {
  const email = optionalString(params, name);
  if (email !== null && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
    throw invalidRequest(`Invalid email address: ${email}`, { code: 'email_invalid', param: name });
  }
  return email;
}

/** An integer >= 1 such as `amount` or `limit`; undefined when absent or empty. */
export function positiveInteger(params: StripeParamMap, name: string): number | undefined {
  const raw = scalar(params, name);
  if (raw === undefined || raw === '') return undefined;
  if (!/^-?\d+$/.test(raw)) {
    throw invalidRequest(`Invalid integer: ${raw}`, { code: 'parameter_invalid_integer', param: name });
  }
  const value = Number(raw);
  if (value < 1) {
    throw invalidRequest('This value must be greater than or equal to 1.', {
      code: 'parameter_invalid_integer',
      param: name,
    });
  }
  return value;
}

/** `true` or `false`; absent or empty is false. */
export function booleanParam(params: StripeParamMap, name: string): boolean {
  const raw = scalar(params, name);
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  throw invalidRequest(`Invalid boolean: ${raw}`, { param: name });
}

/** One of `values`; undefined when absent or empty. */
export function enumParam<const T extends string>(
  params: StripeParamMap,
  name: string,
  values: readonly T[],
): T | undefined {
  const raw = scalar(params, name);
  if (raw === undefined || raw === '') return undefined;
  if ((values as readonly string[]).includes(raw)) return raw as T;
  throw invalidRequest(`Invalid ${name}: must be one of ${values.join(', ')}`, { param: name });
}
