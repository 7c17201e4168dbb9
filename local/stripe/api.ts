// Stripe emulator: `/v1/*` as the SDK meets it. Bearer (or Basic) auth with the emulator's secret key,
// form-encoded parameters, idempotent POSTs, `expand[]`, Stripe-shaped errors and headers.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Stripe from 'stripe';
import type { EmulatorContext } from './context.ts';
import {
  authenticationError,
  errorPayload,
  idempotencyError,
  invalidRequest,
  StripeApiError,
} from './errors.ts';
import { snapshot } from './events.ts';
import { expand, type VirtualFields } from './expand.ts';
import { ParamReader, parseForm } from './form.ts';
import type { Answer } from './http.ts';
import { fingerprint, type IdempotencyCache } from './idempotency.ts';
import { randomToken } from './ids.ts';
import { routes } from './routes.ts';

export type ApiDeps = {
  ctx: EmulatorContext;
  secretKey: string;
  idempotency: IdempotencyCache;
  /** Time-driven work (expiry, funding, overdue) that must be current before a request is answered. */
  runDue: () => void;
  log: (message: string) => void;
};

function presentedKey(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const [scheme, value = ''] = header.split(' ', 2);
  if (scheme?.toLowerCase() === 'bearer') return value.trim();
  if (scheme?.toLowerCase() === 'basic') return Buffer.from(value, 'base64').toString('utf8').split(':')[0];
  return undefined;
}

function authenticate(request: IncomingMessage, secretKey: string): void {
  const key = presentedKey(request);
  if (!key) {
    throw authenticationError(
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
    );
  }
  const given = Buffer.from(key);
  const expected = Buffer.from(secretKey);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    const shown =
      key.length > 12 ? `${key.slice(0, 8)}${'*'.repeat(key.length - 12)}${key.slice(-4)}` : '****';
    throw authenticationError(`Invalid API Key provided: ${shown}`);
  }
}

function virtualFields(ctx: EmulatorContext): VirtualFields {
  return (node, field) => {
    if (node.object !== 'checkout.session' || field !== 'line_items' || typeof node.id !== 'string')
      return undefined;
    const extras = ctx.store.sessionExtras.get(node.id);
    if (!extras) return undefined;
    return {
      object: 'list',
      data: snapshot(extras.lineItems),
      has_more: false,
      url: `/v1/checkout/sessions/${node.id}/line_items`,
    };
  };
}

/** Validation failures and unknown ids are not saved: Stripe keeps a key's result once the endpoint ran. */
function keepsIdempotentResult(status: number): boolean {
  return status !== 400 && status !== 401 && status !== 404;
}

export function handleApi(deps: ApiDeps, request: IncomingMessage, url: URL, body: string): Answer {
  const requestId = `req_${randomToken(14)}`;
  const method = request.method ?? 'GET';
  deps.ctx.store.apiRequests.push({ method, path: url.pathname });
  const idempotencyKey = method === 'POST' ? request.headers['idempotency-key'] : undefined;
  const key = typeof idempotencyKey === 'string' ? idempotencyKey : undefined;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'request-id': requestId,
    'stripe-version': String(request.headers['stripe-version'] ?? Stripe.API_VERSION),
    ...(key ? { 'idempotency-key': key } : {}),
  };
  const answer = (status: number, payload: string): Answer => ({ status, headers, body: payload });
  const fail = (error: StripeApiError) => answer(error.status, errorPayload(error, requestId));
  const outage = deps.ctx.store.requestFailures.find(
    (rule) => rule.times > 0 && rule.method === method && rule.path.test(url.pathname),
  );
  if (outage) {
    outage.times -= 1;
    return fail(
      new StripeApiError(outage.status, {
        type: 'api_error',
        message: 'Stripe is unavailable (emulated outage).',
      }),
    );
  }

  let params: ReturnType<typeof parseForm>;
  let print = '';
  try {
    authenticate(request, deps.secretKey);
    params = parseForm(method === 'POST' ? body : url.search.slice(1));
    if (key !== undefined) {
      if (key.length > 255) {
        throw invalidRequest('Idempotency keys can be at most 255 characters long.', {
          param: 'Idempotency-Key',
        });
      }
      print = fingerprint(method, url.pathname, params);
      const saved = deps.idempotency.lookup(key, print);
      if (saved === 'mismatch') throw idempotencyError(key);
      if (saved) {
        return {
          status: saved.status,
          headers: { ...headers, 'idempotent-replayed': 'true', 'original-request': saved.requestId },
          body: saved.body,
        };
      }
    }
  } catch (error) {
    if (error instanceof StripeApiError) return fail(error);
    throw error;
  }

  let result: Answer;
  try {
    const match = routes
      .filter((candidate) => candidate.method === method)
      .map((candidate) => ({ candidate, found: candidate.pattern.exec(url.pathname) }))
      .find(({ found }) => found !== null);
    if (!match) {
      throw invalidRequest(
        `Unrecognized request URL (${method}: ${url.pathname}). The local Stripe emulator implements only what the product uses; see local/stripe/routes.ts.`,
        { status: 404 },
      );
    }
    deps.runDue();
    const reader = new ParamReader(params);
    deps.ctx.store.currentRequest = { id: requestId, idempotency_key: key ?? null };
    let value: unknown;
    try {
      value = match.candidate.handler(deps.ctx, {
        params: reader,
        id: decodeURIComponent(match.found?.[1] ?? ''),
        path: url.pathname,
      });
    } finally {
      deps.ctx.store.currentRequest = null;
    }
    const wire = expand(deps.ctx.store, snapshot(value), reader.expand(), virtualFields(deps.ctx));
    result = answer(200, JSON.stringify(wire, null, 2));
  } catch (error) {
    if (error instanceof StripeApiError) {
      result = fail(error);
    } else {
      deps.log(
        `stripe emulator: ${method} ${url.pathname} failed: ${(error as Error)?.stack ?? String(error)}`,
      );
      result = fail(
        new StripeApiError(500, {
          type: 'api_error',
          message: 'An unexpected error occurred in the Stripe emulator.',
        }),
      );
    }
  }
  if (key !== undefined && keepsIdempotentResult(result.status)) {
    deps.idempotency.save(key, print, { status: result.status, body: result.body, requestId });
  }
  return result;
}
