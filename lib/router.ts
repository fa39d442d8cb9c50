/** Method is an HTTP method name as it arrives on the request line. */
export type Method = string;

/** Route is one entry of a route table: a method, an exact path and what answers it. */
export type Route<H> = [method: Method, path: string, handler: H];

/** RouteMatch says what the router found for a method and a path. */
export type RouteMatch<H> = { kind: 'found'; handler: H } | { kind: 'method-not-allowed'; allow: string } | { kind: 'not-found' };

/** PARAMETER_SUFFIX marks a route whose last segment is a parameter: `/api/sessions/:id`. */
const PARAMETER_SUFFIX = /\/:[a-z]+$/i;

/**
 * Router maps an exact path and a method to a handler. Almost every route
 * is an exact path, so a Map lookup is the whole algorithm: no patterns to
 * compile, no order to get wrong, and nothing a crafted path can confuse.
 *
 * A route may end in one parameter segment (`/api/sessions/:id`): it
 * matches any path of its prefix followed by one non-empty segment without
 * a `/`, taken as it arrived (never decoded). The handler reads and
 * validates the segment itself; an exact path always wins over a parameter.
 *
 * HEAD is answered wherever GET is (the app drops the body); a path that
 * exists with other methods gives 405 and an `Allow` list; anything else 404.
 */
export class Router<H> {
  #routes = new Map<string, Map<Method, H>>();
  /** #prefixed holds the routes that end in a parameter, by their prefix (`/api/sessions/`). */
  #prefixed = new Map<string, Map<Method, H>>();

  /** add registers `handler` for `method` on `path`; registering twice is a bug and throws. */
  add(method: Method, path: string, handler: H): this {
    const parameter = PARAMETER_SUFFIX.exec(path);
    const table = parameter === null ? this.#routes : this.#prefixed;
    const key = parameter === null ? path : path.slice(0, parameter.index + 1);
    const methods = table.get(key) ?? new Map<Method, H>();
    if (methods.has(method)) throw new Error(`route ${method} ${path} is registered twice`);
    methods.set(method, handler);
    table.set(key, methods);
    return this;
  }

  /** match finds the handler for `method` and `path` (already decoded and normalised by the caller). */
  match(method: Method, path: string): RouteMatch<H> {
    const methods = this.#routes.get(path) ?? this.#withParameter(path);
    if (methods === undefined) return { kind: 'not-found' };
    const handler = methods.get(method) ?? (method === 'HEAD' ? methods.get('GET') : undefined);
    if (handler !== undefined) return { kind: 'found', handler };
    return { kind: 'method-not-allowed', allow: allowHeader(methods) };
  }

  #withParameter(path: string): Map<Method, H> | undefined {
    const slash = path.lastIndexOf('/');
    // One segment after the prefix, and not an empty one.
    if (slash === path.length - 1) return undefined;
    return this.#prefixed.get(path.slice(0, slash + 1));
  }
}

function allowHeader(methods: Map<Method, unknown>): string {
  const names = [...methods.keys()];
  if (methods.has('GET') && !methods.has('HEAD')) names.push('HEAD');
  return names.sort().join(', ');
}
