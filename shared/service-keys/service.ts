// Service keys for `/admin/service-keys`: create (the secret shown once), list (never the secret), revoke.
import * as z from 'zod/mini';
import { nowIso } from '../clock.ts';
import { NotFoundError } from '../errors.ts';
import { isoTime } from '../http/validation.ts';
import { newServiceKey, newUlid } from '../ids.ts';
import { forgetRevokedServiceKey } from './authenticate.ts';
import {
  getServiceKey,
  insertServiceKey,
  listServiceKeys,
  revokeServiceKey,
  type ServiceKeyRecord,
} from './repository.ts';

/** A service key as listed: never the secret. */
export const serviceKeySchema = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string().check(z.describe('The first characters of the secret, to recognise it')),
  created_at: isoTime,
  last_used_at: z.nullable(isoTime),
});

/** A new key: the secret is shown here once (null when an Idempotency-Key replays the answer). */
export const createdServiceKeySchema = z.object({
  id: z.string(),
  key: z.nullable(z.string()),
  name: z.string(),
  created_at: isoTime,
});

export async function createServiceKey(
  name: string,
): Promise<z.output<typeof createdServiceKeySchema> & { key: string }> {
  const { key, hash, displayPrefix } = newServiceKey();
  const record: ServiceKeyRecord = {
    key_id: `svck_${newUlid()}`,
    name,
    prefix: displayPrefix,
    key_hash: hash,
    created_at: nowIso(),
  };
  await insertServiceKey(record);
  return { id: record.key_id, key, name, created_at: record.created_at };
}

export async function activeServiceKeys(): Promise<z.output<typeof serviceKeySchema>[]> {
  return (await listServiceKeys())
    .filter((record) => !record.revoked_at)
    .map((record) => ({
      id: record.key_id,
      name: record.name,
      prefix: record.prefix,
      created_at: record.created_at,
      last_used_at: record.last_used_at ?? null,
    }));
}

export async function revokeServiceKeyById(keyId: string): Promise<void> {
  const record = await getServiceKey(keyId);
  if (!record || record.revoked_at) throw new NotFoundError('Service key not found');
  if (!(await revokeServiceKey(record, nowIso()))) throw new NotFoundError('Service key not found');
  forgetRevokedServiceKey(keyId);
}
