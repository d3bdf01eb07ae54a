import * as pulumi from '@pulumi/pulumi';
import { AtlasDatabase, coreUserRoles } from '../src/components/atlas';
import { SwitchboardApp } from '../src/components/app';
import { ClusterCertificates } from '../src/components/certificates';
import { Edge, controllerValues } from '../src/components/edge';
import { RedisCache } from '../src/components/redis';
import { mediaCorsRules, Storage } from '../src/components/storage';
import { edgeManifests, nginxEscaped, proxyTimeoutSeconds } from '../src/k8s/edge-manifests';

/** NIC's escapedStringsFmt: every double quote escaped, no trailing lone backslash. */
const nginxEscapedFormat = /^([^"\\]|\\.)*$/;
import { imageVersion, pdbMinAvailable } from '../src/k8s/app-manifests';
import { kubernetesManifests, kubernetesSpecs, placeholderSecrets } from '../src/stack';
import { kindOptions } from '../src/k8s/resources';
import { renderYaml } from '../src/k8s/render';
import { installMocks, ofType, settle, valueOf, type MockedProgram, shutdownMocks } from './helpers/mocks';
import { stackConfig } from './helpers/stacks';

afterAll(shutdownMocks);

const production = stackConfig('production');
const dev = stackConfig('dev');
const tags = { app: 'switchboard', environment: 'production', owner: 'o', 'cost-center': 'c', 'managed-by': 'pulumi' };
const noObservability = { ruleGroups: [], dashboards: [] };

async function build(stack: string, create: () => void): Promise<MockedProgram> {
  const program = installMocks(stack);
  create();
  await settle();
  return program;
}

const only = (program: MockedProgram, type: string) => {
  const found = ofType(program, type);
  expect(found).toHaveLength(1);
  return found[0]!.inputs;
};

describe('AtlasDatabase', () => {
  test('production: protected replica set with PITR, TLS 1.2, backups, a scoped readWrite user and PrivateLink', async () => {
    let atlas: AtlasDatabase | undefined;
    const program = await build('atlas-production', () => {
      atlas = new AtlasDatabase('db', { environment: 'production', atlas: production.atlas, network: production.aws, databaseName: 'switchboard', dbPassword: pulumi.secret('p@ss/word'), tags });
    });
    expect(only(program, 'mongodbatlas:index/advancedCluster:AdvancedCluster')).toMatchObject({
      clusterType: 'REPLICASET',
      backupEnabled: true,
      pitEnabled: true,
      terminationProtectionEnabled: true,
      advancedConfiguration: { minimumEnabledTlsProtocol: 'TLS1_2', javascriptEnabled: false },
    });
    const schedule = only(program, 'mongodbatlas:index/cloudBackupSchedule:CloudBackupSchedule');
    expect(schedule.policyItemHourly).toEqual({ frequencyInterval: production.atlas.rpoHours, retentionUnit: 'days', retentionValue: 2 });
    expect(schedule.restoreWindowDays).toBe(7);
    const user = only(program, 'mongodbatlas:index/databaseUser:DatabaseUser');
    expect(user.roles).toEqual(coreUserRoles('switchboard'));
    expect(user.scopes).toEqual([{ name: 'switchboard-production', type: 'CLUSTER' }]);
    expect(ofType(program, 'mongodbatlas:index/projectIpAccessList:ProjectIpAccessList')).toHaveLength(0);
    expect(only(program, 'aws:ec2/vpcEndpoint:VpcEndpoint')).toMatchObject({ vpcEndpointType: 'Interface', vpcId: production.aws.vpcId });
    const uri = atlas!.connectionString;
    expect(await (uri as any).isSecret).toBe(true);
    // The password is URL-encoded and the private-endpoint host is used.
    expect(await valueOf(uri)).toBe('mongodb+srv://switchboard-core-production:p%40ss%2Fword@switchboard-production-pl-0.ab1cd.mongodb.net/switchboard?retryWrites=true&w=majority&tls=true');
  });

  test('dev: public SRV host behind an IP access list, no PITR or protection', async () => {
    let atlas: AtlasDatabase | undefined;
    const program = await build('atlas-dev', () => {
      atlas = new AtlasDatabase('db', { environment: 'dev', atlas: dev.atlas, network: dev.aws, databaseName: 'switchboard', dbPassword: 'pw', tags });
    });
    expect(only(program, 'mongodbatlas:index/advancedCluster:AdvancedCluster')).toMatchObject({ pitEnabled: false, terminationProtectionEnabled: false, backupEnabled: true });
    expect(only(program, 'mongodbatlas:index/projectIpAccessList:ProjectIpAccessList').cidrBlock).toBe('203.0.113.10/32');
    expect(ofType(program, 'mongodbatlas:index/privateLinkEndpoint:PrivateLinkEndpoint')).toHaveLength(0);
    expect(await valueOf(atlas!.connectionString)).toContain('@switchboard-dev.ab1cd.mongodb.net/');
  });
});

describe('RedisCache', () => {
  test('TLS required, encrypted, AUTH token secret, failover in production; URL is rediss:// and secret', async () => {
    let redis: RedisCache | undefined;
    const program = await build('redis', () => {
      redis = new RedisCache('cache', { environment: 'production', redis: production.redis, subnetIds: ['subnet-a'], securityGroupIds: ['sg-a'], authToken: 'tok/en', tags });
    });
    const group = ofType(program, 'aws:elasticache/replicationGroup:ReplicationGroup')[0]!;
    expect(group.inputs).toMatchObject({ transitEncryptionEnabled: true, transitEncryptionMode: 'required', atRestEncryptionEnabled: true, automaticFailoverEnabled: true, multiAzEnabled: true, numCacheClusters: 3, snapshotRetentionLimit: 7 });
    expect(group.secretPaths).toContain('authToken');
    expect(only(program, 'aws:elasticache/subnetGroup:SubnetGroup').subnetIds).toEqual(['subnet-a']);
    expect(await (redis!.url as any).isSecret).toBe(true);
    expect(await valueOf(redis!.url)).toBe('rediss://:tok%2Fen@master.cache-group.abc123.euw1.cache.amazonaws.com:6379');
  });
});

describe('Storage', () => {
  test('two private buckets, KMS for backups, least-privilege policies for the core and ops backup', async () => {
    const program = await build('storage', () => new Storage('s', { environment: 'production', noncurrentVersionDays: 30, backupRetentionDays: 35, backupBucketName: 'switchboard-production-backups-123456789012', corsOrigins: ['https://chat.example.com', 'https://chat.example.com'], tags }));
    expect(ofType(program, 'aws:s3/bucket:Bucket')).toHaveLength(2);
    // The backup bucket carries the committed name (switchboard:backup.bucket) everything derives from; media stays auto-named.
    expect(Object.fromEntries(ofType(program, 'aws:s3/bucket:Bucket').map((b) => [b.name, b.inputs.bucket]))).toEqual({ 's-backups': 'switchboard-production-backups-123456789012', 's-media': undefined });
    expect(ofType(program, 'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock').map((b) => b.inputs)).toEqual(
      Array(2).fill(expect.objectContaining({ blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true })),
    );
    const sse = ofType(program, 'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration').map((c) => c.inputs.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm);
    expect(sse.sort()).toEqual(['AES256', 'aws:kms']);
    expect(only(program, 'aws:kms/key:Key')).toMatchObject({ enableKeyRotation: true });
    const backupLifecycle = ofType(program, 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration').find((l) => l.inputs.bucket === 's-backups-id');
    expect(backupLifecycle?.inputs.rules[0]).toMatchObject({ expiration: { days: 35 }, noncurrentVersionExpiration: { noncurrentDays: 30 } });
    const policies = Object.fromEntries(ofType(program, 'aws:iam/policy:Policy').map((p) => [p.name, JSON.parse(p.inputs.policy)]));
    const actions = (name: string) => policies[name].Statement.flatMap((s: any) => s.Action).sort();
    expect(actions('s-core-media')).toEqual(['s3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject']);
    expect(actions('s-ops-backup')).toEqual(['kms:Decrypt', 'kms:GenerateDataKey', 's3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject']);
    expect(JSON.stringify(policies['s-core-media'])).not.toContain('s-backups');
    expect(JSON.stringify(policies['s-ops-backup'])).not.toContain('s-media');
  });
});

describe('media bucket (issue 21: no public read)', () => {
  test('no read grant and no CDN: its policy only refuses plain HTTP; CORS lets the app\'s origin PUT and GET presigned URLs', async () => {
    const program = await build('media', () => new Storage('s', { environment: 'production', noncurrentVersionDays: 30, backupRetentionDays: 35, backupBucketName: 'switchboard-production-backups-123456789012', corsOrigins: ['https://chat.example.com', 'https://admin.example.com'], tags }));
    expect(ofType(program, 'aws:cloudfront/distribution:Distribution')).toEqual([]);
    const mediaPolicy = ofType(program, 'aws:s3/bucketPolicy:BucketPolicy').find((p) => p.inputs.bucket === 's-media-id');
    expect(JSON.parse(mediaPolicy!.inputs.policy).Statement).toEqual([expect.objectContaining({ Sid: 'DenyInsecureTransport', Effect: 'Deny' })]);
    const cors = ofType(program, 'aws:s3/bucketCorsConfiguration:BucketCorsConfiguration');
    expect(cors.map((c) => c.inputs.bucket)).toEqual(['s-media-id']);
    expect(cors[0]!.inputs.corsRules).toEqual([expect.objectContaining({ allowedOrigins: ['https://chat.example.com', 'https://admin.example.com'], allowedMethods: ['PUT', 'GET', 'HEAD'], allowedHeaders: ['content-type', 'if-none-match'] })]);
  });

  test('CORS origins must be https hosts: no wildcard, none missing', () => {
    expect(() => mediaCorsRules([])).toThrow(/origins must be https:\/\/host values/);
    expect(() => mediaCorsRules(['*'])).toThrow(/origins must be https:\/\/host values/);
    expect(() => mediaCorsRules(['http://chat.example.com'])).toThrow(/got \["http:\/\/chat.example.com"\]/);
    expect(mediaCorsRules(['https://a.example.com', 'https://a.example.com'])[0]!.allowedOrigins).toEqual(['https://a.example.com']);
  });
});

describe('Kubernetes components', () => {
  const specs = kubernetesSpecs(production, placeholderSecrets, noObservability);

  test('SwitchboardApp creates typed resources in its namespace, the namespace first', async () => {
    const program = await build('app', () => new SwitchboardApp('app', { spec: specs.app }));
    const k8s = program.resources.filter((r) => r.type.startsWith('kubernetes:'));
    expect(k8s[0]?.type).toBe('kubernetes:core/v1:Namespace');
    expect(k8s.map((r) => r.type)).toEqual(
      expect.arrayContaining(['kubernetes:apps/v1:Deployment', 'kubernetes:autoscaling/v2:HorizontalPodAutoscaler', 'kubernetes:policy/v1:PodDisruptionBudget', 'kubernetes:monitoring.coreos.com/v1:ServiceMonitor']),
    );
    expect(k8s.filter((r) => r.inputs.kind !== 'Namespace').every((r) => r.inputs.metadata.namespace === 'switchboard')).toBe(true);
    const deployment = only(program, 'kubernetes:apps/v1:Deployment');
    const pod = deployment.spec.template.spec;
    expect(pod.terminationGracePeriodSeconds).toBe(20);
    expect(pod.containers[0].lifecycle.preStop).toEqual({ sleep: { seconds: 5 } });
    expect(pod.containers[0].ports).toEqual([{ name: 'http', containerPort: 3000, protocol: 'TCP' }, { name: 'metrics', containerPort: 9464, protocol: 'TCP' }]);
    expect(only(program, 'kubernetes:autoscaling/v2:HorizontalPodAutoscaler').spec).toMatchObject({ minReplicas: 3, maxReplicas: 10 });
    expect(only(program, 'kubernetes:policy/v1:PodDisruptionBudget').spec.minAvailable).toBe(2);
    expect(ofType(program, 'kubernetes:monitoring.coreos.com/v1:PrometheusRule')).toHaveLength(0);
    // Prometheus scrapes the internal port; the ingress controller reaches only the API port.
    expect(only(program, 'kubernetes:monitoring.coreos.com/v1:ServiceMonitor').spec.endpoints[0]).toMatchObject({ port: 'metrics', path: '/metrics' });
    expect(deployment.spec.template.metadata.annotations['prometheus.io/port']).toBe('9464');
    expect(only(program, 'kubernetes:networking.k8s.io/v1:NetworkPolicy').spec.ingress.map((r: any) => [r.from[0].namespaceSelector.matchLabels['kubernetes.io/metadata.name'], r.ports[0].port])).toEqual([['nginx-ingress', 3000], ['monitoring', 9464]]);
  });

  test('Edge installs F5 NGINX Ingress Controller and the VirtualServer; ClusterCertificates the issuer and certificate', async () => {
    const program = await build('edge', () => {
      new Edge('edge', { spec: specs.edge, controllerReplicas: 2 });
      new ClusterCertificates('certs', { spec: specs.certificates });
    });
    const release = only(program, 'kubernetes:helm.sh/v3:Release');
    expect(release).toMatchObject({ chart: 'oci://ghcr.io/nginx/charts/nginx-ingress', version: production.edge.controllerChartVersion, namespace: 'nginx-ingress' });
    expect(release.values.controller).toMatchObject({ replicaCount: 2, enableSnippets: false, service: { externalTrafficPolicy: 'Local' } });
    expect(only(program, 'kubernetes:k8s.nginx.org/v1:VirtualServer').spec.host).toBe(production.edge.host);
    expect(only(program, 'kubernetes:cert-manager.io/v1:ClusterIssuer').spec.acme.solvers[0]).toEqual({ dns01: { route53: { region: 'eu-west-1', hostedZoneID: production.aws.route53ZoneId } } });
    expect(only(program, 'kubernetes:cert-manager.io/v1:Certificate').spec).toMatchObject({ secretName: 'switchboard-tls', dnsNames: [production.edge.host] });
  });
});

describe('edge objects', () => {
  const base = kubernetesSpecs(production, placeholderSecrets, noObservability).edge;
  const virtualServer = (spec = base) => edgeManifests(spec).find((m) => m.kind === 'VirtualServer') as any;

  test('timeouts exceed Socket.IO ping interval + timeout; long-polling makes upstreams sticky', () => {
    const upstream = virtualServer().spec.upstreams[0];
    expect(proxyTimeoutSeconds).toBeGreaterThan(25 + 20);
    expect(upstream).toMatchObject({ 'read-timeout': '75s', 'send-timeout': '75s', 'lb-method': 'ip_hash', 'client-max-body-size': '1m' });
    expect(virtualServer({ ...base, edge: { ...base.edge, longPolling: false } }).spec.upstreams[0]['lb-method']).toBe('least_conn');
  });

  test('the maintenance switch answers 503 with Retry-After at the edge; the edge has no /metrics rule (metrics live on their own port)', () => {
    expect(virtualServer().spec.routes.find((r: any) => r.path === '/').action.proxy.upstream).toBe('core');
    const routes = virtualServer({ ...base, edge: { ...base.edge, maintenance: true } }).spec.routes;
    for (const path of ['/', '/socket.io/']) {
      const action = routes.find((r: any) => r.path === path).action;
      expect(action.proxy).toBeUndefined();
      expect(action.return).toMatchObject({ code: 503, headers: [{ name: 'Retry-After', value: '120' }] });
      // NIC accepts only escaped double quotes (its escapedStringsFmt); nginx unescapes them.
      expect(action.return.body).toMatch(nginxEscapedFormat);
      expect(JSON.parse(action.return.body.replace(/\\(.)/g, '$1'))).toMatchObject({ status: 503, code: 'maintenance', detail: 'Switchboard is down for maintenance.' });
    }
    expect(routes.map((r: any) => r.path)).toEqual(['/socket.io/', '/']);
  });

  test('header values, return bodies and the rate-limit key use the escaping NIC requires', () => {
    const manifests = edgeManifests({ ...base, edge: { ...base.edge, maintenance: true } });
    const strings = JSON.stringify(manifests);
    const values = [...strings.matchAll(/"(?:value|body|key)":("(?:[^"\\]|\\.)*")/g)].map((m) => JSON.parse(m[1]!) as string);
    expect(values.length).toBeGreaterThan(4);
    for (const value of values) expect(value).toMatch(nginxEscapedFormat);
    expect(nginxEscaped('say "hi" \\ bye')).toBe('say \\"hi\\" \\\\ bye');
    expect('an "unescaped" quote').not.toMatch(nginxEscapedFormat);
  });

  test('the controller keeps client addresses and hides its version', () => {
    const values = controllerValues({ spec: base, controllerReplicas: 1 });
    expect(values.controller.config.entries['server-tokens']).toBe('false');
    expect(values.controller.podDisruptionBudget.enabled).toBe(false);
  });
});

describe('app objects', () => {
  test('the HPA, not pulumi up, owns the Deployment replica count after creation', () => {
    const manifests = kubernetesManifests(kubernetesSpecs(production, placeholderSecrets, noObservability));
    const deployment = manifests.find((m) => m.kind === 'Deployment')!;
    expect(kindOptions(deployment)).toEqual({ ignoreChanges: ['spec.replicas'] });
    expect(kindOptions(manifests.find((m) => m.kind === 'Service')!)).toEqual({});
  });

  test('rendered YAML has no anchors or aliases (shared selector objects are written out)', () => {
    const yaml = renderYaml(kubernetesManifests(kubernetesSpecs(production, placeholderSecrets, noObservability)));
    expect(yaml).not.toMatch(/[&*]a\d+/);
    expect(yaml.match(/app\.kubernetes\.io\/component: core/g)?.length).toBeGreaterThan(5);
  });

  test('PDB floor stays below the HPA floor; release version comes from the image', () => {
    expect(pdbMinAvailable({ ...production.app, minReplicas: 3 })).toBe(2);
    expect(pdbMinAvailable({ ...production.app, minReplicas: 1 })).toBe(1);
    expect(imageVersion('ghcr.io/x/core@sha256:4b825dc642cb6eb9a060e54bf8d69288fbee4904f1c8b4d1a1a0b8d2f3c4e5f6')).toBe('4b825dc642cb');
    expect(imageVersion('ghcr.io/x/core:1.4.2')).toBe('1.4.2');
    expect(imageVersion('localhost:5000/core')).toBe('latest');
  });
});
