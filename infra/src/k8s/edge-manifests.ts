import { AppError } from '../../../core/src/errors';
import type { StackConfig } from '../config';
import { labels, type Manifest } from './types';

/** Socket.IO pings every 25 s and waits 20 s: a proxy timeout must exceed 45 s. */
export const socketIoHeartbeatSeconds = 25 + 20;
/** Proxy read/send timeout on the core's upstream: the heartbeat window plus a margin. */
export const proxyTimeoutSeconds = 75;

export interface EdgeSpec {
  environment: StackConfig['environment'];
  namespace: string;
  edge: StackConfig['edge'];
  tlsSecretName: string;
  serviceName: string;
  servicePort: number;
  maintenanceRetryAfterSeconds: number;
  maintenanceMessage: string;
}

/** NIC writes return bodies and header values inside nginx double quotes: `"` and `\` must be escaped. */
export function nginxEscaped(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

export const securityHeaders = [
  { name: 'Strict-Transport-Security', value: 'max-age=63072000; includeSubDomains', always: true },
  { name: 'X-Content-Type-Options', value: 'nosniff', always: true },
  { name: 'X-Frame-Options', value: 'DENY', always: true },
  { name: 'Referrer-Policy', value: 'no-referrer', always: true },
  { name: 'Content-Security-Policy', value: "default-src 'none'; frame-ancestors 'none'", always: true },
];

/**
 * F5 NGINX Ingress Controller objects for the core: a rate-limit Policy and a VirtualServer with
 * WebSocket-safe timeouts, sticky upstream selection when long-polling is on, body size limit,
 * security headers, and the edge maintenance switch (metrics are on the core's own port, not behind this edge).
 */
export function edgeManifests(spec: EdgeSpec): Manifest[] {
  const { edge, namespace } = spec;
  const meta = (name: string) => ({ name, namespace, labels: labels('edge', spec.environment) });
  const proxy = { upstream: 'core', responseHeaders: { hide: securityHeaders.map((header) => header.name), add: securityHeaders } };
  const maintenance = {
    return: {
      code: 503,
      type: 'application/problem+json',
      // The core's own problem+json body, so clients cannot tell the edge switch from the app's.
      body: nginxEscaped(JSON.stringify(new AppError('maintenance', spec.maintenanceMessage).toProblem())),
      headers: [{ name: 'Retry-After', value: String(spec.maintenanceRetryAfterSeconds) }],
    },
  };
  const pass = edge.maintenance ? maintenance : { proxy };
  return [
    {
      apiVersion: 'k8s.nginx.org/v1',
      kind: 'Policy',
      metadata: meta('switchboard-rate-limit'),
      spec: {
        rateLimit: {
          rate: `${edge.rateLimitPerSecond}r/s`,
          burst: edge.rateLimitBurst,
          noDelay: true,
          key: '${binary_remote_addr}',
          zoneSize: '10M',
          rejectCode: 429,
        },
      },
    },
    {
      apiVersion: 'k8s.nginx.org/v1',
      kind: 'VirtualServer',
      metadata: meta('switchboard'),
      spec: {
        host: edge.host,
        tls: { secret: spec.tlsSecretName, redirect: { enable: true, code: 308 } },
        policies: [{ name: 'switchboard-rate-limit' }],
        upstreams: [
          {
            name: 'core',
            service: spec.serviceName,
            port: spec.servicePort,
            // Long-polling needs every request of a session on the same pod (Socket.IO docs: ip_hash).
            'lb-method': edge.longPolling ? 'ip_hash' : 'least_conn',
            'connect-timeout': '5s',
            'read-timeout': `${proxyTimeoutSeconds}s`,
            'send-timeout': `${proxyTimeoutSeconds}s`,
            'client-max-body-size': edge.clientMaxBodySize,
            'max-fails': 1,
            'fail-timeout': '10s',
            keepalive: 32,
            buffering: false,
          },
        ],
        routes: [
          // No /metrics rule: the core serves metrics only on its own port, which the Service behind this edge does not route.
          { path: '/socket.io/', action: pass },
          { path: '/', action: pass },
        ],
      },
    },
  ];
}

export interface CertManagerSpec {
  environment: StackConfig['environment'];
  namespace: string;
  host: string;
  acmeEmail: string;
  solver: StackConfig['edge']['acmeSolver'];
  route53: { region: string; hostedZoneID: string };
  secretName: string;
  ingressClassName: string;
}

export const letsEncryptServer = 'https://acme-v02.api.letsencrypt.org/directory';

/** cert-manager: a Let's Encrypt ClusterIssuer and the Certificate the VirtualServer uses. */
export function certManagerManifests(spec: CertManagerSpec): Manifest[] {
  const issuerName = `letsencrypt-${spec.environment}`;
  const solver = spec.solver === 'http01' ? { http01: { ingress: { ingressClassName: spec.ingressClassName } } } : { dns01: { route53: spec.route53 } };
  return [
    {
      apiVersion: 'cert-manager.io/v1',
      kind: 'ClusterIssuer',
      metadata: { name: issuerName, labels: labels('certificates', spec.environment) },
      spec: { acme: { server: letsEncryptServer, email: spec.acmeEmail, privateKeySecretRef: { name: `${issuerName}-account-key` }, solvers: [solver] } },
    },
    {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: spec.secretName, namespace: spec.namespace, labels: labels('certificates', spec.environment) },
      spec: {
        secretName: spec.secretName,
        dnsNames: [spec.host],
        issuerRef: { name: issuerName, kind: 'ClusterIssuer', group: 'cert-manager.io' },
        privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
        duration: '2160h',
        renewBefore: '720h',
      },
    },
  ];
}
