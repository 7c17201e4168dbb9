// HTTP calls to a running local stack, as a client (or the operator) would make them. `typedClient` is the
// client an operator's backend uses (openapi-fetch over the generated types); `stackClient` sends anything,
// malformed input included. Both check every answer against the OpenAPI document (test/support/contract.ts).
import createClient from 'openapi-fetch';
import type { paths } from '../../client/openapi.ts';
import { assertDescribed } from './contract.ts';

/** The typed client for the stack at `baseUrl`, with a bearer token or (`adminKey`) as the local operator. */
export function typedClient(baseUrl: string, credentials: { token?: string; adminKey?: string } = {}) {
  const client = createClient<paths>({
    baseUrl,
    headers: {
      ...(credentials.token ? { authorization: `Bearer ${credentials.token}` } : {}),
      ...(credentials.adminKey ? { 'x-admin-key': credentials.adminKey } : {}),
    },
  });
  client.use({
    onResponse: async ({ request, response }) => {
      const text = await response.clone().text();
      const isJson = response.headers.get('content-type')?.includes('json');
      assertDescribed({
        method: request.method,
        path: new URL(request.url).pathname,
        status: response.status,
        header: (name) => response.headers.get(name),
        body: isJson && text ? JSON.parse(text) : text || undefined,
      });
    },
  });
  return client;
}

export type HttpOptions = {
  token?: string;
  /** Send the stack's `x-admin-key`. */
  admin?: boolean;
  body?: unknown;
  /** A form POST (`application/x-www-form-urlencoded`) instead of a JSON body. */
  form?: Record<string, string>;
  accept?: string;
  headers?: Record<string, string>;
};

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies field by field and assert each one
export type HttpAnswer = { status: number; headers: Headers; body: any };

/** A client for the stack at `baseUrl()` (read per call: stacks start in `beforeAll`). */
export function stackClient(baseUrl: () => string, adminKey: string) {
  return async function http(method: string, path: string, options: HttpOptions = {}): Promise<HttpAnswer> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.admin) headers['x-admin-key'] = adminKey;
    if (options.accept) headers.accept = options.accept;
    let body: string | undefined;
    if (options.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    } else {
      headers['content-type'] = 'application/json';
      if (options.body !== undefined) body = JSON.stringify(options.body);
    }
    const response = await fetch(`${baseUrl()}${path}`, { method, headers, ...(body ? { body } : {}) });
    const text = await response.text();
    const isJson = response.headers.get('content-type')?.includes('json');
    const answer = {
      status: response.status,
      headers: response.headers,
      body: isJson && text ? JSON.parse(text) : text || undefined,
    };
    assertDescribed({
      method,
      path,
      status: answer.status,
      header: (name) => response.headers.get(name),
      body: answer.body,
    });
    return answer;
  };
}
