import { socketIoHeartbeatSeconds } from '../src/k8s/edge-manifests';
import { at, ofKind, resourceRule, stackRule, type SwitchboardPolicy } from './support';

/* eslint-disable @typescript-eslint/no-explicit-any -- rules read provider inputs and outputs, which are untyped JSON */

/** The nginx edge (VirtualServer, Policy) and its certificate. */
export const edgePolicies: SwitchboardPolicy[] = [
  resourceRule({
    name: 'edge-websocket-timeouts',
    anchor: 'issue 6 / brief (proxy timeouts > Socket.IO ping interval 25 s + timeout 20 s)',
    description: `Upstream read and send timeouts exceed ${socketIoHeartbeatSeconds} s.`,
    appliesTo: ['VirtualServer'],
    check: (vs) =>
      (vs.props.spec?.upstreams ?? []).flatMap((u: any) =>
        ['read-timeout', 'send-timeout'].filter((key) => !(parseInt(String(u[key] ?? '60'), 10) > socketIoHeartbeatSeconds)).map((key) => `${vs.name}/${u.name}: ${key} ≤ ${socketIoHeartbeatSeconds}s`),
      ),
  }),
  stackRule({
    name: 'edge-sticky-long-polling',
    anchor: 'issue 6 (sticky sessions when long-polling is enabled); Socket.IO "using multiple nodes"',
    description: 'With long-polling on, upstream selection is sticky per client (ip_hash or a hash key).',
    check: (resources, context) => {
      const servers = ofKind(resources, 'VirtualServer');
      if (servers.length === 0 || !context().longPolling) return [];
      return servers.flatMap((vs) =>
        (vs.props.spec?.upstreams ?? []).filter((u: any) => !/^(ip_hash|hash )/.test(String(u['lb-method'] ?? ''))).map((u: any) => at(vs, `${vs.name}/${u.name}: not sticky`)),
      );
    },
  }),
  stackRule({
    name: 'edge-limits-and-headers',
    anchor: 'issue 6 (request size limits, rate limits, security headers)',
    description: 'VirtualServers apply a rate-limit Policy, cap the body size and add HSTS and nosniff.',
    check: (resources) => {
      const limiters = ofKind(resources, 'Policy').filter((p) => p.props.spec?.rateLimit?.rate);
      return ofKind(resources, 'VirtualServer').flatMap((vs) => {
        const problems: string[] = [];
        const policies = (vs.props.spec?.policies ?? []).map((p: any) => p.name);
        if (!limiters.some((l) => policies.includes(l.props.metadata?.name))) problems.push(`${vs.name}: no rate-limit policy`);
        if ((vs.props.spec?.upstreams ?? []).some((u: any) => !u['client-max-body-size'])) problems.push(`${vs.name}: an upstream has no body size limit`);
        const proxied = (vs.props.spec?.routes ?? []).filter((r: any) => r.action?.proxy);
        for (const route of proxied) {
          const added = (route.action.proxy.responseHeaders?.add ?? []).map((h: any) => String(h.name).toLowerCase());
          for (const header of ['strict-transport-security', 'x-content-type-options']) if (!added.includes(header)) problems.push(`${vs.name} ${route.path}: no ${header}`);
        }
        return problems.map((p) => at(vs, p));
      });
    },
  }),
  stackRule({
    name: 'edge-tls',
    anchor: 'issue 6 (certificates: cert-manager Certificate for the cluster ingress, https)',
    description: 'VirtualServers terminate TLS with a cert-manager Certificate for their host and redirect HTTP.',
    check: (resources) => {
      const certificates = ofKind(resources, 'Certificate');
      return ofKind(resources, 'VirtualServer').flatMap((vs) => {
        const tls = vs.props.spec?.tls;
        if (!tls?.secret || tls.redirect?.enable !== true) return [at(vs, `${vs.name}: no TLS with HTTP redirect`)];
        const issued = certificates.some((c) => c.props.spec?.secretName === tls.secret && (c.props.spec?.dnsNames ?? []).includes(vs.props.spec?.host));
        return issued ? [] : [at(vs, `${vs.name}: no Certificate issues ${tls.secret} for ${vs.props.spec?.host}`)];
      });
    },
  }),
];
