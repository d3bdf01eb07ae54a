import { socketIoHeartbeatSeconds } from '../k8s/edge-manifests';
import { ofKind, type PolicyRule } from './policy';

/* eslint-disable @typescript-eslint/no-explicit-any -- rules read provider inputs, which are untyped JSON */

/** The nginx edge (VirtualServer, Policy) and its certificate. */
export const edgeRules: PolicyRule[] = [
  {
    name: 'edge-websocket-timeouts',
    anchor: 'issue 6 / brief (proxy timeouts > Socket.IO ping interval 25 s + timeout 20 s)',
    description: `Upstream read and send timeouts exceed ${socketIoHeartbeatSeconds} s.`,
    check: (resources) =>
      ofKind(resources, 'VirtualServer').flatMap((vs) =>
        (vs.inputs.spec?.upstreams ?? []).flatMap((u: any) =>
          ['read-timeout', 'send-timeout'].filter((key) => !(parseInt(String(u[key] ?? '60'), 10) > socketIoHeartbeatSeconds)).map((key) => `${vs.name}/${u.name}: ${key} ≤ ${socketIoHeartbeatSeconds}s`),
        ),
      ),
  },
  {
    name: 'edge-sticky-long-polling',
    anchor: 'issue 6 (sticky sessions when long-polling is enabled); Socket.IO "using multiple nodes"',
    description: 'With long-polling on, upstream selection is sticky per client (ip_hash or a hash key).',
    check: (resources, context) =>
      !context.longPolling
        ? []
        : ofKind(resources, 'VirtualServer').flatMap((vs) =>
            (vs.inputs.spec?.upstreams ?? []).filter((u: any) => !/^(ip_hash|hash )/.test(String(u['lb-method'] ?? ''))).map((u: any) => `${vs.name}/${u.name}: not sticky`),
          ),
  },
  {
    name: 'edge-limits-and-headers',
    anchor: 'issue 6 (request size limits, rate limits, security headers)',
    description: 'VirtualServers apply a rate-limit Policy, cap the body size and add HSTS and nosniff.',
    check: (resources) => {
      const limiters = ofKind(resources, 'Policy').filter((p) => p.inputs.spec?.rateLimit?.rate);
      return ofKind(resources, 'VirtualServer').flatMap((vs) => {
        const problems: string[] = [];
        const policies = (vs.inputs.spec?.policies ?? []).map((p: any) => p.name);
        if (!limiters.some((l) => policies.includes(l.inputs.metadata?.name))) problems.push(`${vs.name}: no rate-limit policy`);
        if ((vs.inputs.spec?.upstreams ?? []).some((u: any) => !u['client-max-body-size'])) problems.push(`${vs.name}: an upstream has no body size limit`);
        const proxied = (vs.inputs.spec?.routes ?? []).filter((r: any) => r.action?.proxy);
        for (const route of proxied) {
          const added = (route.action.proxy.responseHeaders?.add ?? []).map((h: any) => String(h.name).toLowerCase());
          for (const header of ['strict-transport-security', 'x-content-type-options']) if (!added.includes(header)) problems.push(`${vs.name} ${route.path}: no ${header}`);
        }
        return problems;
      });
    },
  },
  {
    name: 'edge-tls',
    anchor: 'issue 6 (certificates: cert-manager Certificate for the cluster ingress, https)',
    description: 'VirtualServers terminate TLS with a cert-manager Certificate for their host and redirect HTTP.',
    check: (resources) => {
      const certificates = ofKind(resources, 'Certificate');
      return ofKind(resources, 'VirtualServer').flatMap((vs) => {
        const tls = vs.inputs.spec?.tls;
        if (!tls?.secret || tls.redirect?.enable !== true) return [`${vs.name}: no TLS with HTTP redirect`];
        const issued = certificates.some((c) => c.inputs.spec?.secretName === tls.secret && (c.inputs.spec?.dnsNames ?? []).includes(vs.inputs.spec?.host));
        return issued ? [] : [`${vs.name}: no Certificate issues ${tls.secret} for ${vs.inputs.spec?.host}`];
      });
    },
  },
];
