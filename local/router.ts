// Local stack, step 1 of a request: picks the route for a method and path the way API Gateway HTTP APIs do.
import { type Route, routeKey, routes } from '#infra/definitions/routes.ts';

export type RouteMatch = {
  route: Route;
  routeKey: string;
  pathParameters: Record<string, string> | undefined;
};

type Segment = { literal: string } | { param: string } | { greedy: string };

type CompiledRoute = { route: Route; segments: Segment[] };

function compile(route: Route): CompiledRoute {
  const segments = route.path
    .split('/')
    .slice(1)
    .map((part): Segment => {
      const greedy = /^\{(\w+)\+\}$/.exec(part);
      if (greedy) return { greedy: greedy[1]! };
      const param = /^\{(\w+)\}$/.exec(part);
      return param ? { param: param[1]! } : { literal: part };
    });
  return { route, segments };
}

/** HTTP APIs hand handlers decoded path parameters; a malformed escape is passed through as sent. */
function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function matchSegments(segments: Segment[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (const [i, segment] of segments.entries()) {
    if ('greedy' in segment) {
      const rest = parts.slice(i);
      if (rest.length === 0 || rest.every((part) => part === '')) return undefined;
      params[segment.greedy] = rest.map(decode).join('/');
      return params;
    }
    const part = parts[i];
    if (part === undefined) return undefined;
    if ('literal' in segment) {
      if (segment.literal !== part) return undefined;
    } else {
      if (part === '') return undefined;
      params[segment.param] = decode(part);
    }
  }
  return segments.length === parts.length ? params : undefined;
}

/**
 * Orders candidates by API Gateway's precedence: greedy routes last, then at the first differing segment a
 * literal beats a parameter, then a named method beats ANY.
 */
function compareSpecificity(a: CompiledRoute, b: CompiledRoute): number {
  const greedy = (c: CompiledRoute) => (c.segments.some((s) => 'greedy' in s) ? 1 : 0);
  if (greedy(a) !== greedy(b)) return greedy(a) - greedy(b);
  const length = Math.min(a.segments.length, b.segments.length);
  for (let i = 0; i < length; i++) {
    const literalA = 'literal' in a.segments[i]! ? 0 : 1;
    const literalB = 'literal' in b.segments[i]! ? 0 : 1;
    if (literalA !== literalB) return literalA - literalB;
  }
  return (a.route.method === 'ANY' ? 1 : 0) - (b.route.method === 'ANY' ? 1 : 0);
}

export function createRouter(
  table: Route[] = routes,
): (method: string, path: string) => RouteMatch | undefined {
  const compiled = table.map(compile).sort(compareSpecificity);
  return (method, path) => {
    const parts = path.split('/').slice(1);
    for (const candidate of compiled) {
      if (candidate.route.method !== 'ANY' && candidate.route.method !== method.toUpperCase()) continue;
      const params = matchSegments(candidate.segments, parts);
      if (!params) continue;
      return {
        route: candidate.route,
        routeKey: routeKey(candidate.route),
        pathParameters: Object.keys(params).length ? params : undefined,
      };
    }
    return undefined;
  };
}

/** Resolves a request on the project's route table; `undefined` only for paths no route covers, like `/`. */
export const matchRoute = createRouter();
