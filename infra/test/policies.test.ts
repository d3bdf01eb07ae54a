import { checkPolicies, type RenderedResource } from '../policy/check';
import type { PolicyContext } from '../policy/context';
import { switchboardPolicies } from '../policy/policies';
import { buildStack } from '../src/stack';
import { installMocks, settle, shutdownMocks } from './helpers/mocks';
import { asRendered, checkStack, stackResource } from './helpers/policy';
import { stackConfig, testSecrets } from './helpers/stacks';

afterAll(shutdownMocks);

/**
 * The CrossGuard pack (infra/policy) through its in-process adapter (check.ts): the same policy
 * objects the engine runs with `--policy-pack infra/policy/analyzer` (ops/test/policy-pack-engine.test.ts).
 */
type Resources = RenderedResource[];
type Breakage = [string, (resources: Resources) => void];

let compliant: Resources = [];
const context: PolicyContext = { environment: 'production', longPolling: true, rpoHours: 6 };

beforeAll(async () => {
  const program = installMocks('policies');
  buildStack(stackConfig('production'), testSecrets(), { ruleGroups: [], dashboards: [] });
  await settle();
  compliant = asRendered(program.resources);
});

/** The first resource of a type (optionally matching), to break in a copy. */
function first(resources: Resources, type: string, match: (r: RenderedResource) => boolean = () => true): RenderedResource {
  const found = resources.find((r) => (r.type === type || (r.type.startsWith('kubernetes:') && r.props.kind === type)) && match(r));
  if (!found) throw new Error(`no ${type} in the program`);
  return found;
}
const inputs = (resources: Resources, type: string, match?: (r: RenderedResource) => boolean) => first(resources, type, match).props;
const withPolicy = (r: RenderedResource, edit: (doc: any) => void) => {
  const doc = JSON.parse(r.props.policy);
  edit(doc);
  r.props.policy = JSON.stringify(doc);
};
const container = (resources: Resources) => inputs(resources, 'Deployment').spec.template.spec.containers[0];
const cronJobContainer = (resources: Resources) => inputs(resources, 'CronJob').spec.jobTemplate.spec.template.spec.containers[0];
const upstream = (resources: Resources) => inputs(resources, 'VirtualServer').spec.upstreams[0];
const backupBucket = (r: RenderedResource) => r.props.bucket === 'storage-backups-id';
const mediaBucket = (r: RenderedResource) => r.props.bucket === 'storage-media-id';
/** Adds a compliant CloudFront distribution (on some other origin) and returns its props, to break. */
function withCdn(resources: Resources): any {
  const props = {
    origins: [{ originId: 'site', domainName: 'site.example.com', originAccessControlId: 'oac-id' }],
    defaultCacheBehavior: { viewerProtocolPolicy: 'https-only' },
    viewerCertificate: { acmCertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/x', minimumProtocolVersion: 'TLSv1.2_2021', sslSupportMethod: 'sni-only' },
  };
  resources.push({ type: 'aws:cloudfront/distribution:Distribution', name: 'site-cdn', props });
  return props;
}

/** For every rule, resources that are deliberately wrong in exactly the way the rule forbids. */
const breakages: Record<string, Breakage[]> = {
  's3-public-access-blocked': [['one switch off', (rs) => (inputs(rs, 'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock').restrictPublicBuckets = false)]],
  's3-owner-enforced': [
    ['ObjectWriter ownership', (rs) => (inputs(rs, 'aws:s3/bucketOwnershipControls:BucketOwnershipControls').rule.objectOwnership = 'ObjectWriter')],
    ['an ACL resource', (rs) => rs.push({ type: 'aws:s3/bucketAcl:BucketAcl', name: 'public-read', props: { acl: 'public-read' } })],
  ],
  's3-encrypted-at-rest': [
    ['backups on SSE-S3 instead of KMS', (rs) => (inputs(rs, 'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration', backupBucket).rules = [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }])],
    ['no default encryption', (rs) => rs.splice(rs.indexOf(first(rs, 'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration')), 1)],
  ],
  's3-versioning-and-lifecycle': [
    ['versioning suspended', (rs) => (inputs(rs, 'aws:s3/bucketVersioning:BucketVersioning').versioningConfiguration.status = 'Suspended')],
    ['noncurrent versions kept forever', (rs) => inputs(rs, 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration').rules.forEach((rule: any) => delete rule.noncurrentVersionExpiration)],
  ],
  's3-deny-insecure-transport': [['backup bucket policy removed', (rs) => rs.splice(rs.indexOf(first(rs, 'aws:s3/bucketPolicy:BucketPolicy', backupBucket)), 1)]],
  's3-no-public-principal': [
    ['Principal *', (rs) => withPolicy(first(rs, 'aws:s3/bucketPolicy:BucketPolicy', backupBucket), (doc) => doc.Statement.push({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::storage-backups-id/*' }))],
    ['CloudFront without SourceArn', (rs) => withPolicy(first(rs, 'aws:s3/bucketPolicy:BucketPolicy', backupBucket), (doc) => doc.Statement.push({ Effect: 'Allow', Principal: { Service: 'cloudfront.amazonaws.com' }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::storage-backups-id/*' }))],
  ],
  's3-media-private': [
    // What the removed media CDN did: a read grant to CloudFront (bound to its distribution, so
    // s3-no-public-principal accepts it), and the distribution in front of the bucket.
    ['a CDN read grant in the media bucket policy', (rs) => withPolicy(first(rs, 'aws:s3/bucketPolicy:BucketPolicy', mediaBucket), (doc) => doc.Statement.unshift({
      Sid: 'AllowCloudFrontOnly', Effect: 'Allow', Principal: { Service: 'cloudfront.amazonaws.com' }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::storage-media-id/*',
      Condition: { StringEquals: { 'AWS:SourceArn': 'arn:aws:cloudfront::123456789012:distribution/media' } },
    }))],
    ['a public-read grant', (rs) => withPolicy(first(rs, 'aws:s3/bucketPolicy:BucketPolicy', mediaBucket), (doc) => doc.Statement.push({ Sid: 'PublicRead', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: ['s3:GetObject'], Resource: 'arn:aws:s3:::storage-media-id/*' }))],
    ['a CloudFront distribution in front of it', (rs) => rs.push({ type: 'aws:cloudfront/distribution:Distribution', name: 'media-cdn', props: { origins: [{ originId: 'media', domainName: 'storage-media-id.s3.eu-west-1.amazonaws.com', originAccessControlId: 'oac' }] } })],
    ['CORS open to any origin', (rs) => (inputs(rs, 'aws:s3/bucketCorsConfiguration:BucketCorsConfiguration').corsRules[0].allowedOrigins = ['*'])],
    ['no CORS rule', (rs) => rs.splice(rs.indexOf(first(rs, 'aws:s3/bucketCorsConfiguration:BucketCorsConfiguration')), 1)],
  ],
  // The stack has no CloudFront or ACM since the media CDN went (issue 21); these rules still hold any
  // that comes back, so each case adds a compliant one and breaks it.
  'cloudfront-origin-access-control': [
    ['legacy OAI', (rs) => {
      const origin = withCdn(rs).origins[0];
      delete origin.originAccessControlId;
      origin.s3OriginConfig = { originAccessIdentity: 'origin-access-identity/cloudfront/E1' };
    }],
    ['unsigned requests', (rs) => rs.push({ type: 'aws:cloudfront/originAccessControl:OriginAccessControl', name: 'oac', props: { originAccessControlOriginType: 's3', signingBehavior: 'never', signingProtocol: 'sigv4' } })],
  ],
  'cloudfront-https-tls12': [
    ['allow-all viewers', (rs) => (withCdn(rs).defaultCacheBehavior.viewerProtocolPolicy = 'allow-all')],
    ['TLSv1 viewers', (rs) => (withCdn(rs).viewerCertificate.minimumProtocolVersion = 'TLSv1')],
  ],
  'acm-dns-validation': [
    ['e-mail validation', (rs) => rs.push({ type: 'aws:acm/certificate:Certificate', name: 'cert', props: { domainName: 'static.example.com', validationMethod: 'EMAIL' } })],
    ['CloudFront certificate outside us-east-1', (rs) => (withCdn(rs).viewerCertificate.acmCertificateArn = 'arn:aws:acm:eu-west-1:123456789012:certificate/x')],
  ],
  'redis-encrypted': [
    ['TLS only preferred', (rs) => (inputs(rs, 'aws:elasticache/replicationGroup:ReplicationGroup').transitEncryptionMode = 'preferred')],
    ['no AUTH token', (rs) => delete inputs(rs, 'aws:elasticache/replicationGroup:ReplicationGroup').authToken],
  ],
  'redis-snapshots': [['no snapshots', (rs) => (inputs(rs, 'aws:elasticache/replicationGroup:ReplicationGroup').snapshotRetentionLimit = 0)]],
  'redis-failover-in-production': [['single AZ', (rs) => (inputs(rs, 'aws:elasticache/replicationGroup:ReplicationGroup').multiAzEnabled = false)]],
  'atlas-tls-minimum': [['TLS 1.0 allowed', (rs) => (inputs(rs, 'mongodbatlas:index/advancedCluster:AdvancedCluster').advancedConfiguration.minimumEnabledTlsProtocol = 'TLS1_0')]],
  'atlas-backups': [
    ['backups off', (rs) => (inputs(rs, 'mongodbatlas:index/advancedCluster:AdvancedCluster').backupEnabled = false)],
    ['no schedule', (rs) => rs.splice(rs.indexOf(first(rs, 'mongodbatlas:index/cloudBackupSchedule:CloudBackupSchedule')), 1)],
    ['snapshots further apart than the RPO', (rs) => (inputs(rs, 'mongodbatlas:index/cloudBackupSchedule:CloudBackupSchedule').policyItemHourly.frequencyInterval = 12)],
  ],
  'atlas-pitr-and-protection-in-production': [
    ['PITR off', (rs) => (inputs(rs, 'mongodbatlas:index/advancedCluster:AdvancedCluster').pitEnabled = false)],
    ['termination protection off', (rs) => (inputs(rs, 'mongodbatlas:index/advancedCluster:AdvancedCluster').terminationProtectionEnabled = false)],
  ],
  'atlas-no-open-access-list': [['0.0.0.0/0', (rs) => rs.push({ type: 'mongodbatlas:index/projectIpAccessList:ProjectIpAccessList', name: 'anyone', props: { projectId: 'p', cidrBlock: '0.0.0.0/0' } })]],
  'atlas-least-privilege-user': [
    ['atlasAdmin', (rs) => (inputs(rs, 'mongodbatlas:index/databaseUser:DatabaseUser').roles = [{ roleName: 'atlasAdmin', databaseName: 'admin' }])],
    ['not scoped to the cluster', (rs) => (inputs(rs, 'mongodbatlas:index/databaseUser:DatabaseUser').scopes = [])],
  ],
  'iam-least-privilege': [
    ['s3:* on *', (rs) => withPolicy(first(rs, 'aws:iam/policy:Policy'), (doc) => doc.Statement.push({ Effect: 'Allow', Action: 's3:*', Resource: '*' }))],
  ],
  'required-tags': [
    ['KMS key without owner', (rs) => delete inputs(rs, 'aws:kms/key:Key').tags.owner],
    ['untagged listed type', (rs) => delete inputs(rs, 'mongodbatlas:index/advancedCluster:AdvancedCluster').tags],
    ['another AWS resource with partial tags', (rs) => rs.push({ type: 'aws:sns/topic:Topic', name: 'alerts', props: { tags: { app: 'switchboard' } } })],
  ],
  'k8s-probes': [
    ['readiness on /health', (rs) => (container(rs).readinessProbe.httpGet.path = '/health')],
    ['no liveness probe', (rs) => delete container(rs).livenessProbe],
  ],
  'k8s-resources': [
    ['no memory limit', (rs) => delete container(rs).resources.limits.memory],
    ['backup job without a CPU request', (rs) => delete cronJobContainer(rs).resources.requests.cpu],
  ],
  'k8s-restricted-security-context': [
    ['writable root filesystem', (rs) => (container(rs).securityContext.readOnlyRootFilesystem = false)],
    ['capabilities kept', (rs) => (container(rs).securityContext.capabilities.drop = [])],
    ['backup job allowed to escalate', (rs) => (cronJobContainer(rs).securityContext = { ...cronJobContainer(rs).securityContext, allowPrivilegeEscalation: true })],
  ],
  'k8s-replicas-in-production': [
    ['one replica', (rs) => (inputs(rs, 'Deployment').spec.replicas = 1)],
    ['HPA floor of 2', (rs) => (inputs(rs, 'HorizontalPodAutoscaler').spec.minReplicas = 2)],
  ],
  'k8s-hpa-seed-targets': [['CPU at 90 %', (rs) => (inputs(rs, 'HorizontalPodAutoscaler').spec.metrics[0].resource.target.averageUtilization = 90)]],
  'k8s-hpa-above-pdb': [['PDB as high as the HPA floor', (rs) => (inputs(rs, 'PodDisruptionBudget').spec.minAvailable = 3)]],
  'k8s-graceful-shutdown': [['grace shorter than the drain', (rs) => (inputs(rs, 'Deployment').spec.template.spec.terminationGracePeriodSeconds = 12)]],
  'k8s-secrets-not-in-configmaps': [['MONGODB_URI in the ConfigMap', (rs) => (inputs(rs, 'ConfigMap', (r) => Boolean(r.props.data?.APP_ENV)).data.MONGODB_URI = 'mongodb+srv://u:p@h/db')]],
  'edge-websocket-timeouts': [['30 s read timeout', (rs) => (upstream(rs)['read-timeout'] = '30s')]],
  'edge-sticky-long-polling': [['round robin with long-polling', (rs) => (upstream(rs)['lb-method'] = 'round_robin')]],
  'edge-limits-and-headers': [
    ['no rate-limit policy', (rs) => (inputs(rs, 'VirtualServer').spec.policies = [])],
    ['no body size limit', (rs) => delete upstream(rs)['client-max-body-size']],
    ['no HSTS', (rs) => inputs(rs, 'VirtualServer').spec.routes.forEach((r: any) => r.action.proxy && (r.action.proxy.responseHeaders.add = []))],
  ],
  'edge-tls': [
    ['certificate for another host', (rs) => (inputs(rs, 'Certificate').spec.dnsNames = ['other.example.com'])],
    ['no HTTP redirect', (rs) => (inputs(rs, 'VirtualServer').spec.tls.redirect.enable = false)],
  ],
};

const names = switchboardPolicies.map((policy) => policy.name);
const failing = async (resources: Resources, ctx: PolicyContext = context) => (await checkStack(resources, ctx)).mandatory;

describe('the switchboard policy pack', () => {
  test('every policy has a unique name, an anchor, a level and at least one deliberately bad case', () => {
    expect(new Set(names).size).toBe(names.length);
    expect(Object.keys(breakages).sort()).toEqual([...names].sort());
    for (const policy of switchboardPolicies) {
      expect(policy.anchor.length).toBeGreaterThan(10);
      expect(policy.enforcementLevel).toBe('mandatory');
      expect('validateStack' in policy || 'validateResource' in policy).toBe(true);
    }
    // Both kinds of CrossGuard policy are in use: the adapter runs each the way the engine does.
    expect(switchboardPolicies.filter((p) => 'validateResource' in p).length).toBeGreaterThan(5);
    expect(switchboardPolicies.filter((p) => 'validateStack' in p).length).toBeGreaterThan(5);
  });

  test('the production program is compliant before anything is broken', async () => {
    expect(compliant.length).toBeGreaterThan(40);
    expect((await checkStack(compliant, context)).violations).toEqual([]);
  });

  const cases = names.flatMap((name) => (breakages[name] ?? []).map(([what, breakIt]) => [name, what, breakIt] as const));
  test.each(cases)('%s fails on a bad resource: %s', async (policyName, _what, breakIt) => {
    const resources = structuredClone(compliant);
    breakIt(resources);
    const violations = await failing(resources);
    expect(violations.map((v) => v.policy)).toContain(policyName);
    // Each violation names the resource it is about and carries the policy's requirement (the fix).
    for (const v of violations.filter((x) => x.policy === policyName)) {
      expect(v.urn).toMatch(/^urn:pulumi:test::switchboard::/);
      expect(v.description).toBe(switchboardPolicies.find((p) => p.name === policyName)!.description);
    }
  });

  test('environment-specific rules only apply to production', async () => {
    const resources = structuredClone(compliant);
    inputs(resources, 'aws:elasticache/replicationGroup:ReplicationGroup').multiAzEnabled = false;
    expect(await failing(resources, { ...context, environment: 'staging' })).toEqual([]);
    upstream(resources)['lb-method'] = 'least_conn';
    expect(await failing(resources, { ...context, environment: 'staging', longPolling: false })).toEqual([]);
  });

  test('a resource policy reports the resource it validated (urn, name in the message)', async () => {
    const resources = structuredClone(compliant);
    inputs(resources, 'aws:elasticache/replicationGroup:ReplicationGroup').snapshotRetentionLimit = 0;
    const [violation] = (await failing(resources)).filter((v) => v.policy === 'redis-snapshots');
    const group = first(resources, 'aws:elasticache/replicationGroup:ReplicationGroup');
    expect(violation).toEqual({ policy: 'redis-snapshots', enforcementLevel: 'mandatory', urn: `urn:pulumi:test::switchboard::${group.type}::${group.name}`, message: `${group.name}: automatic snapshots are off`, description: 'Replication groups keep automatic snapshots.' });
  });

  test('enforcement levels: advisory violations warn, disabled policies do not run, mandatory ones fail', async () => {
    const resources = [stackResource(context), ...structuredClone(compliant)];
    inputs(resources, 'aws:elasticache/replicationGroup:ReplicationGroup').snapshotRetentionLimit = 0;
    inputs(resources, 'Deployment').spec.replicas = 1;
    const advisory = await checkPolicies(resources, { config: { 'redis-snapshots': 'advisory', 'k8s-replicas-in-production': { enforcementLevel: 'disabled' } } });
    expect(advisory.mandatory).toEqual([]);
    expect(advisory.advisory.map((v) => v.policy)).toEqual(['redis-snapshots']);
    const strict = await checkPolicies(resources);
    expect(strict.mandatory.map((v) => v.policy).sort()).toEqual(['k8s-replicas-in-production', 'redis-snapshots']);
  });

  test('a rule that needs the stack context fails loudly without the policyContext output', async () => {
    await expect(checkPolicies(structuredClone(compliant))).rejects.toThrow(/policy redis-failover-in-production: the stack exports no valid "policyContext" output/);
  });
});
