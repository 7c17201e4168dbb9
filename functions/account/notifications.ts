// /v1/notifications: who is emailed about the account's billing, the low-balance alert threshold, and which
// families of events email (billing scope).

import type * as z from 'zod/mini';
import { json } from '#shared/http/api.ts';
import { apiRoute, byRoute } from '#shared/http/handler.ts';
import { bodyOf, callerOf } from '#shared/http/middleware.ts';
import { getNotificationStatus } from '#shared/notifications/send.ts';
import {
  getNotificationSettings,
  type NotificationSettings,
  notificationSettingsBody,
  putNotificationSettings,
  settingsView,
} from '#shared/notifications/settings.ts';

export const handler = byRoute({
  'GET /v1/notifications': apiRoute({ auth: 'billing' }, async (_event, context) => {
    const accountId = callerOf(context).accountId;
    const [settings, status] = await Promise.all([
      getNotificationSettings(accountId),
      getNotificationStatus(accountId),
    ]);
    return json(200, { ...settingsView(settings), status });
  }),
  'PUT /v1/notifications': apiRoute(
    { auth: 'billing', body: notificationSettingsBody },
    async (_event, context) => {
      const body = bodyOf<z.infer<typeof notificationSettingsBody>>(context);
      const settings: NotificationSettings = {
        recipients: body.recipients,
        lowBalanceThreshold: body.low_balance_threshold,
        events: body.events,
      };
      const { accountId, actor } = callerOf(context);
      await putNotificationSettings(accountId, settings, actor);
      return json(200, settingsView(settings));
    },
  ),
});
