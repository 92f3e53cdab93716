/** The route table: an HTTP method and an ARM path pattern (matched case-insensitively) lead to one handler. */
import type { ArmRequest, ArmResponse } from './http.ts';

export type ApiFamily = 'compute' | 'gallery' | 'resources' | 'network' | 'skus' | 'disk' | 'web' | 'eventGrid' | 'authorization' | 'none';

export interface Route {
  method: string;
  /** ARM path with `{name}` placeholders, e.g. `/subscriptions/{sub}/resourceGroups/{rg}`. */
  pattern: string;
  /** Operation name as the SDK calls it (`virtualMachines.deallocate`); faults and latency match on it. */
  operation: string;
  /** Which api-versions the route accepts. */
  api: ApiFamily;
  handler: (req: ArmRequest) => Promise<ArmResponse> | ArmResponse;
}

interface CompiledRoute extends Route {
  regex: RegExp;
  names: string[];
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

/** A malformed escape stays as sent; the handler's name validation then rejects it (400, not a crash). */
function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const source = route.pattern
    .split('/')
    .map((segment) => {
      const param = /^\{(\w+)\}$/.exec(segment);
      if (param) {
        names.push(param[1]!);
        return '([^/]+)';
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { ...route, regex: new RegExp(`^${source}$`, 'i'), names };
}

export class RouteTable {
  readonly #routes: CompiledRoute[] = [];

  add(...routes: Route[]): this {
    for (const route of routes) this.#routes.push(compile(route));
    return this;
  }

  /** Finds the route for a path; `methodAllowed` says whether some route has the path under another method. */
  match(method: string, path: string): { match?: RouteMatch; pathKnown: boolean } {
    let pathKnown = false;
    for (const route of this.#routes) {
      const found = route.regex.exec(path);
      if (!found) continue;
      pathKnown = true;
      if (route.method !== method.toUpperCase()) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => {
        params[name] = safeDecode(found[i + 1]!);
      });
      return { match: { route, params }, pathKnown };
    }
    return { pathKnown };
  }
}
