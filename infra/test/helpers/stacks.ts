import * as pulumi from '@pulumi/pulumi';
import { stackConfigFromFile } from '../../render';
import { environments, type Environment, type StackConfig, type StackSecrets } from '../../src/config';

export { rawStackConfig } from '../../render';

export function stackConfig(environment: Environment): StackConfig {
  return stackConfigFromFile(environment);
}

export const allEnvironments = environments;

/** What `pulumi config set --secret` would hold. */
export function testSecrets(): StackSecrets {
  return {
    atlasDbPassword: pulumi.secret('correct-horse-battery-staple-0123456789'),
    redisAuthToken: pulumi.secret('redis-auth-token-0123456789abcdef'),
    jwtHs256Keys: pulumi.secret('k1:0123456789abcdef0123456789abcdef'),
    notificationWebhookSecret: pulumi.secret('webhook-signing-key-0123456789abcdef'),
    alertPagerdutyRoutingKey: pulumi.secret('pagerduty-routing-key-0123456789abcdef'),
    alertSlackWebhookUrl: pulumi.secret('https://hooks.slack.com/services/T000/B000/secret'),
  };
}
