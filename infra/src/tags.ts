import type { StackConfig } from './config';

/** Tags every taggable AWS and Atlas resource carries (checked by the `required-tags` policy). */
export const requiredTagKeys = ['app', 'environment', 'owner', 'cost-center', 'managed-by'] as const;

export function standardTags(config: Pick<StackConfig, 'environment' | 'tags'>): Record<(typeof requiredTagKeys)[number], string> {
  return {
    app: 'switchboard',
    environment: config.environment,
    owner: config.tags.owner,
    'cost-center': config.tags.costCenter,
    'managed-by': 'pulumi',
  };
}
