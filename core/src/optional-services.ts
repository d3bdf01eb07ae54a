import type { Config } from './config';
import { createJobs, jobsSettingsFrom } from './jobs/jobs-module';
import { createAttachmentService, type AttachmentService } from './media/attachment-service';
import { ensureAttachmentIndexes } from './media/attachment-store';
import { createS3Client, s3ObjectBaseUrl } from './media/s3';
import { createNotifier } from './notifications/notifier';
import type { Presence } from './realtime/presence';
import { parseObjectId } from './domain/ids';
import { membershipsRepository } from './store/memberships-repository';
import type { Store } from './store/mongo-store';
import type { Logger } from './telemetry/logger';
import type { Metrics } from './telemetry/metrics';

/**
 * What the core runs beside the chat rules, each switched by its configuration: attachments in
 * object storage (S3_BUCKET), offline notifications (NOTIFICATION_WEBHOOK_URL) and the scheduled
 * jobs (retention, conversation archival, orphaned-upload cleanup).
 */
export async function startOptionalServices(deps: { config: Config; store: Store; metrics: Metrics; logger: Logger; presence: Presence }) {
  const { config, store, metrics, logger } = deps;
  let attachments: AttachmentService | undefined;
  let s3: ReturnType<typeof createS3Client> | undefined;
  let storageOrigin: string | undefined;
  if (config.S3_BUCKET) {
    const s3Options = {
      bucket: config.S3_BUCKET,
      region: config.S3_REGION,
      endpoint: config.S3_ENDPOINT,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      accessKeyId: config.S3_ACCESS_KEY_ID,
      secretAccessKey: config.S3_SECRET_ACCESS_KEY,
    };
    s3 = createS3Client(s3Options);
    storageOrigin = new URL(s3ObjectBaseUrl(s3Options)).origin;
    await ensureAttachmentIndexes(store.db);
    attachments = createAttachmentService({
      store,
      s3,
      metrics: { attachments: metrics.attachments },
      options: {
        bucket: config.S3_BUCKET,
        uploadUrlExpiresS: config.ATTACHMENT_UPLOAD_URL_TTL_S,
        maxBytes: config.ATTACHMENT_MAX_BYTES,
        allowedTypes: config.ATTACHMENT_ALLOWED_TYPES,
        maxPerMessage: config.ATTACHMENTS_PER_MESSAGE,
        maxPendingPerUser: config.ATTACHMENT_PENDING_PER_USER_MAX,
        downloadUrlExpiresS: config.ATTACHMENT_DOWNLOAD_URL_TTL_S,
      },
    });
  }

  const memberships = membershipsRepository(store);
  const notifier = createNotifier({
    webhookUrl: config.NOTIFICATION_WEBHOOK_URL,
    secret: config.NOTIFICATION_WEBHOOK_SECRET ?? '',
    preview: config.NOTIFICATION_PREVIEW_CHARS,
    maxAttempts: config.NOTIFICATION_MAX_ATTEMPTS,
    metrics: metrics.notifier,
    logger,
    listMembers: async (conversationId) => {
      const id = parseObjectId(conversationId);
      return id ? (await memberships.listForConversation(id)).map((m) => m.userId) : [];
    },
    onlineAmong: (userIds) => deps.presence.onlineAmong(userIds),
  });

  const jobs = await createJobs({
    db: store.db,
    instanceId: config.INSTANCE_ID,
    attachments,
    metrics: metrics.jobs,
    logger,
    settings: jobsSettingsFrom(config),
  });
  jobs.start();

  return {
    attachments,
    /** Origin of the bucket's presigned URLs: the web client's CSP admits it for uploads (PUT) and images. */
    storageOrigin,
    notifier,
    jobs,
    /** Before the database closes: jobs stop after their current batch, notifications drain briefly. */
    async stop(): Promise<void> {
      await Promise.all([jobs.stop(), notifier.stop(2_000)]);
      s3?.destroy();
    },
  };
}
