// Stripe emulator: the HTTP plumbing shared by the API, the hosted pages and the test controls.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidRequest } from './errors.ts';
import { type FormObject, parseForm } from './form.ts';

export type Answer = { status: number; headers: Record<string, string>; body: string };

const MAX_BODY_BYTES = 1024 * 1024;

export function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.once('end', () => {
      if (size > MAX_BODY_BYTES) reject(invalidRequest('Request body too large.', { status: 413 }));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    request.once('error', reject);
  });
}

/** A JSON object or a form: what the hosted pages and the test controls accept. */
export function parseLooseBody(request: IncomingMessage, body: string): FormObject {
  if (!body.trim()) return {};
  if (request.headers['content-type']?.includes('application/json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw invalidRequest('The body is not valid JSON.');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw invalidRequest('The body must be a JSON object.');
    }
    return Object.fromEntries(
      Object.entries(parsed).map(([key, value]) => [
        key,
        typeof value === 'object' ? JSON.stringify(value) : String(value),
      ]),
    );
  }
  return parseForm(body);
}

export function wantsJson(request: IncomingMessage): boolean {
  return request.headers.accept?.includes('application/json') ?? false;
}

export function json(status: number, value: unknown, headers: Record<string, string> = {}): Answer {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(value, null, 2),
  };
}

export function html(status: number, body: string): Answer {
  return { status, headers: { 'content-type': 'text/html; charset=utf-8' }, body };
}

export function redirect(location: string): Answer {
  return { status: 303, headers: { location }, body: '' };
}

export function send(response: ServerResponse, answer: Answer): void {
  response.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers)) response.setHeader(name, value);
  response.end(answer.body);
}
