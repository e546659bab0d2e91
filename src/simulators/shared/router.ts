// The simulators' router: path templates with `:name` segments, tried in order, matched by method and
// the raw pathname; the name of the route that matched is what counters and fault rules see.
import type { SimRequest, SimResponse } from './wire.js';

export interface Route {
  method: string;
  /** Path template: literal segments plus `:name` params, e.g. `/users/:id` or `/Messages/:sid.json`. */
  path: string;
  /** Name used for counters and fault matching. Default: `${METHOD} ${path}`. */
  name?: string;
  handler(req: SimRequest): SimResponse | Promise<SimResponse>;
}

/** The route that answers a request, its name and the URI-decoded values of its `:name` segments. */
export interface RouteMatch {
  readonly route: Route;
  readonly name: string;
  readonly params: Record<string, string>;
}

export interface Router {
  /** The first route whose method and template match, or undefined (the request gets a 404). */
  find(method: string, path: string): RouteMatch | undefined;
}

interface CompiledRoute {
  readonly route: Route;
  readonly name: string;
  readonly method: string;
  readonly pattern: RegExp;
  readonly paramNames: readonly string[];
}

/** Compiles every template up front, so a malformed route throws at creation rather than on a request. */
export function createRouter(routes: readonly Route[]): Router {
  const compiled = routes.map(compileRoute);
  return {
    find(method, path) {
      for (const candidate of compiled) {
        if (candidate.method !== method) continue;
        const m = candidate.pattern.exec(path);
        if (m === null) continue;
        const params: Record<string, string> = {};
        try {
          candidate.paramNames.forEach((param, i) => {
            params[param] = decodeURIComponent(m[i + 1] ?? '');
          });
        } catch {
          continue; // malformed percent-encoding: treat as no match
        }
        return { route: candidate.route, name: candidate.name, params };
      }
      return undefined;
    },
  };
}

function compileRoute(route: Route): CompiledRoute {
  const method = route.method.toUpperCase();
  if (!route.path.startsWith('/')) {
    throw new TypeError(`route path must start with '/', but got: ${JSON.stringify(route.path)}`);
  }
  const paramNames: string[] = [];
  const source = route.path
    .split(/(:[A-Za-z_][A-Za-z0-9_]*)/)
    .map((part) => {
      if (!part.startsWith(':')) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const param = part.slice(1);
      if (paramNames.includes(param)) {
        throw new TypeError(`route ${route.path} declares the param :${param} twice`);
      }
      paramNames.push(param);
      return '([^/]+?)';
    })
    .join('');
  return {
    route,
    name: route.name ?? `${method} ${route.path}`,
    method,
    pattern: new RegExp(`^${source}$`),
    paramNames,
  };
}
