import * as pulumi from '@pulumi/pulumi';

const secretSig = '4dabf18193072939515e22adb298388d';

/** Inputs with Pulumi's secret wrappers removed; `secretPaths` records where they were. */
export function unwrapSecrets(value: any, at = '', paths: string[] = []): any {
  if (Array.isArray(value)) return value.map((item, index) => unwrapSecrets(item, `${at}[${index}]`, paths));
  if (value && typeof value === 'object') {
    if (secretSig in value) {
      paths.push(at || '.');
      return unwrapSecrets(value.value, at, []);
    }
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, unwrapSecrets(inner, at ? `${at}.${key}` : key, paths)]));
  }
  return value;
}

/** Outputs a real provider would compute that the components read. */
function computed(type: string, name: string, inputs: Record<string, any>): Record<string, unknown> {
  switch (type) {
    case 'aws:s3/bucket:Bucket': {
      // As the provider: an explicit `bucket` input is the bucket's name; without one it is auto-named (here: the resource name).
      const bucket = (inputs.bucket as string | undefined) ?? name;
      return { bucket, arn: `arn:aws:s3:::${bucket}`, bucketRegionalDomainName: `${bucket}.s3.eu-west-1.amazonaws.com` };
    }
    case 'aws:acm/certificate:Certificate':
      return {
        arn: `arn:aws:acm:${inputs.region ?? 'eu-west-1'}:123456789012:certificate/${name}`,
        domainValidationOptions: [
          { domainName: inputs.domainName, resourceRecordName: `_abc.${inputs.domainName}.`, resourceRecordType: 'CNAME', resourceRecordValue: '_xyz.acm-validations.aws.' },
        ],
      };
    case 'aws:acm/certificateValidation:CertificateValidation':
      return { certificateArn: inputs.certificateArn };
    case 'aws:route53/record:Record':
      return { fqdn: inputs.name };
    case 'aws:elasticache/replicationGroup:ReplicationGroup':
      return { primaryEndpointAddress: `master.${name}.abc123.euw1.cache.amazonaws.com` };
    case 'aws:cloudfront/distribution:Distribution':
      return { domainName: 'd111111abcdef8.cloudfront.net', hostedZoneId: 'Z2FDTNDATAQYW2', arn: `arn:aws:cloudfront::123456789012:distribution/${name}` };
    case 'aws:kms/key:Key':
      return { keyId: `${name}-key-id`, arn: `arn:aws:kms:eu-west-1:123456789012:key/${name}` };
    case 'mongodbatlas:index/advancedCluster:AdvancedCluster':
      return {
        connectionStrings: {
          standardSrv: `mongodb+srv://${inputs.name}.ab1cd.mongodb.net`,
          privateEndpoints: [{ srvConnectionString: `mongodb+srv://${inputs.name}-pl-0.ab1cd.mongodb.net` }],
        },
      };
    case 'mongodbatlas:index/privateLinkEndpoint:PrivateLinkEndpoint':
      return { privateLinkId: `${name}-link`, endpointServiceName: 'com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0' };
    case 'kubernetes:helm.sh/v3:Release':
      return { status: { name: `${name}-a1b2c3d4`, namespace: inputs.namespace, status: 'deployed' } };
    case 'kubernetes:core/v1:Service':
      return { status: { loadBalancer: { ingress: [{ hostname: 'a1b2c3d4e5f6-123456789.eu-west-1.elb.amazonaws.com' }] } } };
    case 'aws:iam/role:Role':
      return { arn: `arn:aws:iam::123456789012:role/${inputs.name ?? name}` };
    default:
      return { arn: `arn:mock:${type}:${name}` };
  }
}

export interface CapturedResource {
  type: string;
  name: string;
  id: string;
  /** Resolved inputs, secrets unwrapped. */
  inputs: Record<string, any>;
  /** Input paths that arrived as Pulumi secrets. */
  secretPaths: string[];
  /** The provider reference (`<urn>::<id>`) the resource was registered with, if explicit. */
  provider?: string;
}

export interface MockedProgram {
  /** Every resource registered (components included), in order. */
  resources: CapturedResource[];
}

/**
 * Installs Pulumi mocks that record every resource. Each call uses its own stack name, so one
 * test file can build several environments without URN clashes.
 */
export function installMocks(stack: string): MockedProgram {
  const program: MockedProgram = { resources: [] };
  void pulumi.runtime.setMocks(
    {
      newResource(args) {
        const id = `${args.name}-id`;
        const state = { ...args.inputs, ...computed(args.type, args.name, args.inputs) };
        const secretPaths: string[] = [];
        const inputs = unwrapSecrets(args.inputs, '', secretPaths);
        program.resources.push({ type: args.type, name: args.name, id, inputs, secretPaths, ...(args.provider ? { provider: args.provider } : {}) });
        return { id, state };
      },
      call(args) {
        return args.inputs;
      },
    },
    'switchboard',
    stack,
    false,
  );
  return program;
}

/** Waits until every resource registration the program started has finished. */
export async function settle(): Promise<void> {
  await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
}

/** The value of an output (mocks resolve them). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((value) => resolve(value)));
}

export function ofType(program: MockedProgram, type: string): CapturedResource[] {
  return program.resources.filter((resource) => resource.type === type);
}

/** Closes what the Pulumi runtime may have opened (its callback server) so jest workers exit cleanly. */
export function shutdownMocks(): void {
  pulumi.runtime.disconnectSync();
}
