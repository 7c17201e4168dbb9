// Stripe emulator: object ids in Stripe's shape (`cus_…`, `pi_…`, `cs_test_…`) and Stripe's unix-second
// timestamps, read from the one clock so `POST /__local/clock` moves the emulator with everything else.
import { randomBytes } from 'node:crypto';
import { nowMs } from '#shared/clock.ts';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function randomToken(length: number): string {
  const bytes = randomBytes(length);
  let token = '';
  for (const byte of bytes) token += ALPHABET[byte % ALPHABET.length];
  return token;
}

export function newId(prefix: string): string {
  return `${prefix}_${randomToken(24)}`;
}

/** Seconds since the epoch on the shared clock: every `created`, `expires_at` and signature timestamp. */
export function unixNow(): number {
  return Math.floor(nowMs() / 1000);
}
