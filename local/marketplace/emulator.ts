// Local AWS Marketplace emulator: a node:http server speaking the Metering and Entitlement Services'
// awsJson1_1 protocol (`POST /`, `x-amz-target: AWSMPMeteringService.<Operation>` or
// `AWSMPEntitlementService.GetEntitlements`), so the real `@aws-sdk/client-marketplace-metering` and
// `@aws-sdk/client-marketplace-entitlement-service` clients talk to it with `endpoint` set to
// `emulator.endpoint`, plus the local-mode routes under `/__marketplace/*` that stand in for buyers.
// In-memory state; time from the shared clock. Local mode and tests only; the cloud talks to AWS.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { config } from '#shared/config.ts';
import { debouncedStateWriter, readStateFile, StateFileUnreadableError } from '../state-file.ts';
import { type ContractInput, getEntitlements, parseContract, setEntitlements } from './entitlements.ts';
import { MeteringError } from './errors.ts';
import type { LifecycleEvent } from './events.ts';
import { DEFAULT_PRODUCT_CODE, requestId } from './ids.ts';
import {
  batchMeterUsage,
  describeCustomer,
  HOUR_MS,
  landAgain,
  type MintedCustomer,
  type MintOptions,
  mintCustomer,
  resolveCustomer,
  unsubscribe,
} from './metering.ts';
import { restoreMarketplaceState, saveMarketplaceState } from './persistence.ts';
import { createStore, type MarketplaceStore, type StoredRecord } from './store.ts';

export type { ContractInput } from './entitlements.ts';
export type { LifecycleEvent } from './events.ts';
export type { MintedCustomer, MintOptions } from './metering.ts';
export type { ContractEntitlement, ReceivedUsageRecord, RecordStatus, StoredRecord } from './store.ts';

export type MarketplaceEmulatorOptions = {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Called with each subscription lifecycle event (EventBridge `aws.agreement-marketplace` shape). */
  onLifecycleEvent?: (event: LifecycleEvent) => void;
  /** The next this-many Metering calls fail with `ThrottlingException`. */
  throttleNext?: number;
  /**
   * Hours after its timestamp that BatchMeterUsage accepts a record. Default: the metering job's own setting
   * (MARKETPLACE_WINDOW_HOURS, 6), read at each call, so the emulator refuses what AWS would.
   */
  windowHours?: number;
  /** Product code of minted buyers when none is given; default `DEFAULT_PRODUCT_CODE`. */
  defaultProductCode?: string;
  /** Where internal errors and failing event handlers are reported; default: nowhere. */
  log?: (message: string) => void;
  /**
   * Keep the buyers and records in this JSON file across restarts (`npm start`): read on start, written
   * `STATE_WRITE_DELAY_MS` after a change and on stop. Default: in memory only.
   */
  stateFile?: string;
};

export type MarketplaceEmulatorControl = {
  /**
   * A new buyer landing from AWS Marketplace (the same as `POST /__marketplace/customers`); with
   * `entitlements`, a contract buyer (emits `Purchase Agreement Created - Manufacturer`).
   */
  mintCustomer(options?: MintOptions): MintedCustomer;
  /**
   * Replaces a buyer's entitlements (an amendment, or with a new `contract_end` a renewal under a new
   * agreement id) and emits the events AWS would; `undefined` for an unknown account.
   */
  setEntitlements(customerAwsAccountId: string, contract: ContractInput): MintedCustomer | undefined;
  /** A new registration token for a buyer already minted (it landed again); `undefined` for an unknown one. */
  landAgain(customerAwsAccountId: string): string | undefined;
  /** Cancels the buyer's subscription and emits the lifecycle events; `false` for an unknown account. */
  unsubscribe(customerAwsAccountId: string): boolean;
  /** Every usage record received, in order, with the status answered. */
  records(): StoredRecord[];
  customers(): ReturnType<typeof describeCustomer>[];
  /** The next `n` Metering or Entitlement calls (any operation) fail with `ThrottlingException`. */
  throttle(n: number): void;
  /** The next `n` GetEntitlements calls fail with `InternalServiceErrorException` (500). */
  failEntitlements(n: number): void;
  /** The next `n` records that pass validation come back in `UnprocessedRecords` (not billed). */
  leaveUnprocessed(n: number): void;
};

export type MarketplaceEmulator = {
  /** `http://host:port`. */
  url: string;
  port: number;
  /** For the SDKs: `new MarketplaceMeteringClient({ endpoint, region, credentials })`, the same for entitlements. */
  endpoint: string;
  /** A ready client config: endpoint, a region and dummy credentials. */
  clientConfig: {
    endpoint: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
  };
  control: MarketplaceEmulatorControl;
  stop(): Promise<void>;
};

const METERING_PREFIX = 'AWSMPMeteringService.';
const ENTITLEMENT_PREFIX = 'AWSMPEntitlementService.';
const MAX_BODY_BYTES = 1024 * 1024;
const AMZ_JSON = 'application/x-amz-json-1.1';

/** A crash loses at most this much of the emulator's changes; a burst of calls costs one write. */
export const STATE_WRITE_DELAY_MS = 200;

function restore(stateFile: string | undefined, defaultProductCode: string): MarketplaceStore | undefined {
  const saved = stateFile ? readStateFile(stateFile) : undefined;
  if (saved === undefined) return undefined;
  const store = restoreMarketplaceState(saved, defaultProductCode);
  if (!store) throw new StateFileUnreadableError(stateFile ?? '', 'not a saved Marketplace emulator state');
  return store;
}

type Answer = { status: number; headers: Record<string, string>; body: string };

const json = (status: number, body: unknown): Answer => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

const amz = (status: number, body: unknown, extra: Record<string, string> = {}): Answer => ({
  status,
  headers: { 'content-type': AMZ_JSON, 'x-amzn-requestid': requestId(), ...extra },
  body: JSON.stringify(body),
});

/** A local route's refusal, in the contract's error shape. */
const refuse = (status: number, code: string, error: string): Answer => json(status, { error, code });

const amzError = (error: MeteringError): Answer =>
  amz(error.status, { __type: error.type, message: error.message }, { 'x-amzn-errortype': error.type });

/** A local route's JSON object body (empty = `{}`), or why it is not one. */
function parseJsonObject(body: string): Record<string, unknown> | string {
  if (body.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return 'The body is not valid JSON.';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'The body must be a JSON object.';
  }
  return value as Record<string, unknown>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size <= MAX_BODY_BYTES + 1) chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startMarketplaceEmulator(
  options: MarketplaceEmulatorOptions = {},
): Promise<MarketplaceEmulator> {
  const log = options.log ?? (() => {});
  const defaultProductCode = options.defaultProductCode ?? DEFAULT_PRODUCT_CODE;
  const windowHours = () => options.windowHours ?? config.marketplaceWindowHours;
  const store = restore(options.stateFile, defaultProductCode) ?? createStore(defaultProductCode);
  const stateFile = options.stateFile;
  const state = stateFile
    ? debouncedStateWriter(
        stateFile,
        () => saveMarketplaceState(store),
        STATE_WRITE_DELAY_MS,
        (error) => log(`marketplace emulator: saving ${stateFile} failed: ${(error as Error)?.message}`),
      )
    : undefined;
  store.throttleRemaining = Math.max(0, Math.floor(options.throttleNext ?? 0));

  const emit = (events: LifecycleEvent[]) => {
    for (const event of events) {
      try {
        options.onLifecycleEvent?.(event);
      } catch (error) {
        log(`marketplace emulator: lifecycle handler failed: ${(error as Error)?.message ?? String(error)}`);
      }
    }
  };

  const control: MarketplaceEmulatorControl = {
    // Controls called in-process change state without an HTTP call: each marks the state file to write.
    mintCustomer(mint) {
      const minted = mintCustomer(store, defaultProductCode, mint);
      state?.changed();
      emit(minted.events);
      return minted.customer;
    },
    setEntitlements(accountId, contract) {
      const { entitlements, contractEndMs } = parseContract(contract, true);
      const customer = store.byAccount.get(accountId);
      if (!customer || !entitlements) return undefined;
      const events = setEntitlements(customer, entitlements, contractEndMs);
      state?.changed();
      emit(events);
      return describeCustomer(customer);
    },
    landAgain(accountId) {
      const token = landAgain(store, accountId);
      state?.changed();
      return token;
    },
    unsubscribe(accountId) {
      const done = unsubscribe(store, accountId);
      if (!done) return false;
      state?.changed();
      emit(done.events);
      return true;
    },
    records: () => store.records.map((record) => structuredClone(record)),
    customers: () => store.customers.map(describeCustomer),
    throttle(n) {
      store.throttleRemaining = Math.max(0, Math.floor(n));
    },
    leaveUnprocessed(n) {
      store.unprocessedRemaining = Math.max(0, Math.floor(n));
    },
    failEntitlements(n) {
      store.entitlementFailuresRemaining = Math.max(0, Math.floor(n));
    },
  };

  const awsCall = (request: IncomingMessage, body: string): Answer => {
    const target = String(request.headers['x-amz-target'] ?? '');
    if (!target.startsWith(METERING_PREFIX) && !target.startsWith(ENTITLEMENT_PREFIX)) {
      throw new MeteringError(
        'UnknownOperationException',
        `Unknown operation ${target || '(no x-amz-target)'}.`,
      );
    }
    if (store.throttleRemaining > 0) {
      store.throttleRemaining--;
      throw new MeteringError('ThrottlingException', 'Rate exceeded');
    }
    if (target === `${ENTITLEMENT_PREFIX}GetEntitlements` && store.entitlementFailuresRemaining > 0) {
      store.entitlementFailuresRemaining--;
      throw new MeteringError('InternalServiceErrorException', 'Internal service error.', 500);
    }
    if (Buffer.byteLength(body) > MAX_BODY_BYTES) {
      throw new MeteringError('ValidationException', 'The request must be smaller than 1 MB.');
    }
    let input: unknown;
    try {
      input = body === '' ? {} : JSON.parse(body);
    } catch {
      throw new MeteringError('SerializationException', 'The request body is not valid JSON.');
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new MeteringError('SerializationException', 'The request body must be a JSON object.');
    }
    const params = input as Record<string, unknown>;
    if (target.startsWith(ENTITLEMENT_PREFIX)) {
      if (target === `${ENTITLEMENT_PREFIX}GetEntitlements`) return amz(200, getEntitlements(store, params));
      throw new MeteringError('UnknownOperationException', `Unknown operation ${target}.`);
    }
    switch (target.slice(METERING_PREFIX.length)) {
      case 'ResolveCustomer':
        return amz(200, resolveCustomer(store, params));
      case 'BatchMeterUsage':
        return amz(200, batchMeterUsage(store, params, windowHours() * HOUR_MS));
      case 'MeterUsage':
        throw new MeteringError(
          'InvalidProductCodeException',
          'MeterUsage is for AMI and container products; SaaS products report usage with BatchMeterUsage.',
        );
      case 'RegisterUsage':
        throw new MeteringError(
          'PlatformNotSupportedException',
          'RegisterUsage is for container products only.',
        );
      default:
        throw new MeteringError('UnknownOperationException', `Unknown operation ${target}.`);
    }
  };

  /** A local route's change, or 400 `validation_error` when the control refuses its input. */
  const validated = (change: () => Answer): Answer => {
    try {
      return change();
    } catch (error) {
      if (error instanceof MeteringError) return refuse(400, 'validation_error', error.message);
      throw error;
    }
  };

  const localRoute = (request: IncomingMessage, url: URL, body: string): Answer => {
    const path = url.pathname;
    if (path === '/__marketplace/customers' && request.method === 'POST') {
      const mint = parseJsonObject(body);
      if (typeof mint === 'string') return refuse(400, 'validation_error', mint);
      return validated(() => json(201, control.mintCustomer(mint as MintOptions)));
    }
    if (path === '/__marketplace/customers' && request.method === 'GET') {
      return json(200, { data: control.customers() });
    }
    const action = /^\/__marketplace\/customers\/([^/]+)\/(unsubscribe|entitlements)$/.exec(path);
    if (action && request.method === 'POST') {
      const accountId = decodeURIComponent(action[1] ?? '');
      const customer = store.byAccount.get(accountId);
      if (!customer) return refuse(404, 'not_found', `No customer with account ${accountId}.`);
      if (action[2] === 'unsubscribe') {
        control.unsubscribe(accountId);
        return json(200, describeCustomer(customer));
      }
      const contract = parseJsonObject(body);
      if (typeof contract === 'string') return refuse(400, 'validation_error', contract);
      return validated(() => json(200, control.setEntitlements(accountId, contract as ContractInput)));
    }
    if (path === '/__marketplace/usage-records' && request.method === 'GET') {
      return json(200, { data: control.records() });
    }
    return refuse(404, 'not_found', `Nothing at ${request.method} ${path}`);
  };

  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://emulator');
    // Every change the emulator makes comes with a call to it.
    state?.changed();
    let answer: Answer;
    try {
      const body = await readBody(request);
      if (url.pathname.startsWith('/__marketplace/')) {
        answer = localRoute(request, url, body);
      } else if (request.method === 'POST' && url.pathname === '/') {
        try {
          answer = awsCall(request, body);
        } catch (error) {
          if (!(error instanceof MeteringError)) throw error;
          answer = amzError(error);
        }
      } else {
        answer = refuse(404, 'not_found', `Nothing at ${request.method} ${url.pathname}`);
      }
    } catch (error) {
      log(
        `marketplace emulator: ${request.method} ${url.pathname} failed: ${(error as Error)?.stack ?? String(error)}`,
      );
      answer = amzError(
        new MeteringError(
          'InternalServiceErrorException',
          'Internal error in the Marketplace emulator.',
          500,
        ),
      );
    }
    response.writeHead(answer.status, {
      ...answer.headers,
      'content-length': Buffer.byteLength(answer.body),
    });
    response.end(answer.body);
  });

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const reachableHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const url = `http://${host === '0.0.0.0' || host === '::' ? 'localhost' : host}:${port}`;
  const endpoint = `http://${reachableHost}:${port}`;

  return {
    url,
    port,
    endpoint,
    clientConfig: {
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEMULATOR', secretAccessKey: 'emulator-secret' },
    },
    control,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      state?.flush();
    },
  };
}
