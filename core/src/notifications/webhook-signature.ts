import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header names of a webhook delivery. */
export const webhookHeaders = {
  signature: 'x-switchboard-signature',
  timestamp: 'x-switchboard-timestamp',
  delivery: 'x-switchboard-delivery',
} as const;

/** `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`; the timestamp is Unix seconds. */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** For receivers: true when the signature matches and the timestamp is within `toleranceS` of now. */
export function verifyWebhookSignature(secret: string, timestamp: string | undefined, body: string, signature: string | undefined, toleranceS = 300, nowS = Date.now() / 1000): boolean {
  if (!timestamp || !signature || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(nowS - Number(timestamp)) > toleranceS) return false;
  const expected = Buffer.from(signWebhook(secret, Number(timestamp), body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
