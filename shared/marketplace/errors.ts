// The error every AWS Marketplace call answers with when AWS does not: 503 `marketplace_unavailable`, after
// the call's own retries. Nothing was written: the buyer posts the registration form again, or the event is
// delivered again.
import { DomainError } from '../errors.ts';

export class MarketplaceUnavailableError extends DomainError {
  override readonly name = 'MarketplaceUnavailableError';
  readonly status = 503;
  readonly code = 'marketplace_unavailable';
  constructor(options?: ErrorOptions) {
    super('AWS Marketplace could not be reached; please try again in a moment', options);
  }
}
