// Pulumi program of every Switchboard environment: `pulumi preview|up --stack <dev|staging|production>`.
import { program } from './program';

const outputs = program();

export const mongoClusterName = outputs.mongoClusterName;
export const redisEndpoint = outputs.redisEndpoint;
export const mediaBucket = outputs.mediaBucket;
export const backupBucket = outputs.backupBucket;
export const coreMediaPolicyArn = outputs.coreMediaPolicyArn;
export const backupPolicyArn = outputs.backupPolicyArn;
export const appHost = outputs.appHost;
// Read by the policy pack (infra/policy/context.ts): environment, long-polling and RPO of this stack.
export const policyContext = outputs.policyContext;
