// Pagination cursors: opaque to clients, signed with HMAC-SHA256 under a per-deployment key and bound to the
// account they were issued to, so a tampered, forged or foreign cursor is refused (400 naming `cursor`),
// never read. The key: CURSOR_KEY (local mode and tests), else the Secrets Manager secret CURSOR_SECRET_ARN
// (generated at deploy time, re-read every few minutes so a rotated key is picked up without a deploy).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { MissingConfigurationError, optional } from '../config.ts';
import { ValidationError } from '../errors.ts';

const KEY_CACHE_MS = 5 * 60_000;
/** Shorter keys would make the MAC only as strong as the key. */
const MIN_KEY_LENGTH = 32;

let cached: { key: string; readAt: number } | undefined;
let secretsManager: SecretsManagerClient | undefined;

async function cursorKey(): Promise<string> {
  const local = optional('CURSOR_KEY');
  if (local) return checked(local, 'CURSOR_KEY');
  const arn = optional('CURSOR_SECRET_ARN');
  if (!arn) throw new MissingConfigurationError('neither CURSOR_KEY nor CURSOR_SECRET_ARN is set');
  if (!cached || Date.now() - cached.readAt > KEY_CACHE_MS) {
    secretsManager ??= new SecretsManagerClient({});
    const result = await secretsManager.send(new GetSecretValueCommand({ SecretId: arn }));
    cached = { key: checked(result.SecretString ?? '', 'the cursor secret'), readAt: Date.now() };
  }
  return cached.key;
}

function checked(key: string, source: string): string {
  if (key.length < MIN_KEY_LENGTH) {
    throw new MissingConfigurationError(`${source} must be at least ${MIN_KEY_LENGTH} characters`);
  }
  return key;
}

function mac(key: string, accountId: string, payload: string): Buffer {
  return createHmac('sha256', key).update(`${accountId}\n${payload}`).digest();
}

/** `<payload>.<mac>`, both base64url; the MAC covers the account id, which the cursor itself does not carry. */
export async function signCursor(accountId: string, value: unknown): Promise<string> {
  const payload = Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${payload}.${mac(await cursorKey(), accountId, payload).toString('base64url')}`;
}

export function invalidCursor(options?: ErrorOptions): ValidationError {
  return new ValidationError([{ field: 'cursor', problem: 'is not a cursor this API returned' }], options);
}

/** The value a cursor this API signed for `accountId` carries; anything else is a 400 naming `cursor`. */
export async function openCursor(accountId: string, text: string): Promise<unknown> {
  const [payload, signature, extra] = text.split('.');
  if (!payload || !signature || extra !== undefined) throw invalidCursor();
  // Compared as text, not as decoded bytes: base64url decoding ignores the unused low bits of the last
  // character, so a changed last character can decode to the same MAC; only the canonical encoding passes.
  const expected = Buffer.from(mac(await cursorKey(), accountId, payload).toString('base64url'));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalidCursor();
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
  } catch (error) {
    throw invalidCursor({ cause: error });
  }
}
