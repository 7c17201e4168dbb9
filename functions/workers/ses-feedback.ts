// SES's later word on a notification email (a bounce, a complaint), from the configuration set's event
// destination on the default bus: recorded on the account's notification status.
import type { EventBridgeEvent } from 'aws-lambda';
import { recordSesFeedback } from '#shared/notifications/feedback.ts';
import { flushingMetrics } from '#shared/observability/powertools.ts';

export const handler = flushingMetrics(
  async (event: EventBridgeEvent<string, unknown>): Promise<{ outcome: string }> => ({
    outcome: await recordSesFeedback(event.detail),
  }),
);
