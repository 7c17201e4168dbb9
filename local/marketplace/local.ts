// The local stack's AWS Marketplace part: the emulator, its lifecycle events delivered to the lifecycle
// function (EventBridge's part in the cloud), and `/__marketplace/*` served on the stack's own port.
import type { IncomingMessage } from 'node:http';
import type { HttpAnswer } from '../api-gateway.ts';
import { type LifecycleEvent, type MarketplaceEmulator, startMarketplaceEmulator } from './emulator.ts';

export type LocalMarketplaceOptions = {
  /** Default `MARKETPLACE_EMULATOR_PORT`, else a free port. */
  port?: number;
  /** Product code of minted buyers. */
  defaultProductCode?: string;
  /** Keep the buyers and records in this file across restarts (`npm start`). */
  stateFile?: string;
};

export async function startLocalMarketplace(
  option: false | LocalMarketplaceOptions | undefined,
  host: string,
  log: (message: string) => void,
  deliver: (event: LifecycleEvent) => Promise<unknown>,
): Promise<MarketplaceEmulator | undefined> {
  if (option === false) return undefined;
  const settings = option ?? {};
  const port = settings.port ?? Number(process.env.MARKETPLACE_EMULATOR_PORT ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(
      `MARKETPLACE_EMULATOR_PORT must be a port number, got ${process.env.MARKETPLACE_EMULATOR_PORT}`,
    );
  }
  return startMarketplaceEmulator({
    port,
    host,
    ...(settings.defaultProductCode ? { defaultProductCode: settings.defaultProductCode } : {}),
    ...(settings.stateFile ? { stateFile: settings.stateFile } : {}),
    log,
    // EventBridge delivers asynchronously, after the unsubscribe call has answered, and retries failures.
    onLifecycleEvent: (event) => {
      setImmediate(() => {
        const attempt = (left: number): void => {
          deliver(event).catch((error: unknown) => {
            if (left > 0) setTimeout(() => attempt(left - 1), 1_000).unref();
            else console.error('local marketplace lifecycle delivery failed:', error);
          });
        };
        attempt(3);
      });
    },
  });
}

/** `/__marketplace/*` on the stack's port: passed through to the emulator as it is. */
export async function proxyToMarketplace(
  emulator: MarketplaceEmulator,
  request: IncomingMessage,
  body: Buffer,
  requestId: string,
): Promise<HttpAnswer> {
  const method = request.method ?? 'GET';
  const contentType = request.headers['content-type'];
  const response = await fetch(`${emulator.url}${request.url ?? '/'}`, {
    method,
    headers: contentType ? { 'content-type': contentType } : {},
    ...(method === 'GET' || method === 'HEAD' ? {} : { body: new Uint8Array(body) }),
  });
  return {
    status: response.status,
    headers: {
      'content-type': response.headers.get('content-type') ?? 'application/json',
      'x-request-id': requestId,
    },
    cookies: [],
    body: Buffer.from(await response.arrayBuffer()),
  };
}
