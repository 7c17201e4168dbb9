// The notification worker: billing events from the notification queue (an EventBridge rule on the project's
// bus), turned into emails and customer webhook deliveries, each once per event.
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { handleNotificationMessages } from '#shared/notifications/notify.ts';
import { flushingMetrics } from '#shared/observability/powertools.ts';

export const handler = flushingMetrics(
  (event: SQSEvent): Promise<SQSBatchResponse> => handleNotificationMessages(event.Records),
);
