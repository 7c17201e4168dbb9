// Identifiers shaped like AWS Marketplace's own.
import { randomBytes, randomInt, randomUUID } from 'node:crypto';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const LOWER_ALPHANUMERIC = 'abcdefghijklmnopqrstuvwxyz0123456789';

function pick(alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** The product code every customer gets unless told otherwise (25 characters, like a real one). */
export const DEFAULT_PRODUCT_CODE = 'emulatorproductcode000001';

/** The seller's (our) account id in events and license ARNs' issuer. */
export const SELLER_ACCOUNT_ID = '111122223333';

/** AWS Marketplace's license issuer account, as in real license ARNs. */
const LICENSE_ISSUER_ACCOUNT_ID = '294406891311';

export const registrationToken = (): string => randomBytes(48).toString('base64url');
export const customerIdentifier = (): string => pick(ALPHANUMERIC, 11);
export const awsAccountId = (): string => String(randomInt(1, 10)) + pick('0123456789', 11);
export const licenseArn = (): string =>
  `arn:aws:license-manager::${LICENSE_ISSUER_ACCOUNT_ID}:license:l-${randomBytes(16).toString('hex')}`;
export const agreementId = (): string => `agmt-${pick(LOWER_ALPHANUMERIC, 25)}`;
export const offerId = (): string => `offer-${pick(LOWER_ALPHANUMERIC, 25)}`;
export const productId = (productCode: string): string => `prod-${productCode.slice(0, 13).toLowerCase()}`;
export const meteringRecordId = (): string => randomUUID();
export const requestId = (): string => randomUUID();

export const LICENSE_ARN_PATTERN = /^arn:aws:license-manager::\d{12}:license:l-[0-9a-z]{32}$/;
