// The Metering and Entitlement Services' errors as the awsJson1_1 protocol carries them:
// `{ "__type", "message" }` with the HTTP status, plus the `x-amzn-errortype` header. Names come from the
// SDK models (`@aws-sdk/client-marketplace-metering`, `@aws-sdk/client-marketplace-entitlement-service`:
// `InvalidParameterException`); `ValidationException`, `SerializationException` and
// `UnknownOperationException` are the framework errors every AWS JSON service answers (not modelled, so the
// SDK surfaces them as a `MarketplaceMeteringServiceException` whose `name` is the type).

export type MeteringErrorType =
  | 'ExpiredTokenException'
  | 'InvalidTokenException'
  | 'InvalidProductCodeException'
  | 'InvalidLicenseException'
  | 'InvalidTagException'
  | 'InvalidUsageAllocationsException'
  | 'ThrottlingException'
  | 'TimestampOutOfBoundsException'
  | 'ValidationException'
  | 'SerializationException'
  | 'UnknownOperationException'
  | 'PlatformNotSupportedException'
  | 'InternalServiceErrorException'
  | 'InvalidParameterException';

export class MeteringError extends Error {
  readonly type: MeteringErrorType;
  readonly status: number;

  constructor(type: MeteringErrorType, message: string, status = 400) {
    super(message);
    this.type = type;
    this.status = status;
  }
}
