import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { allDashboards, generatedDir, renderAll } from '../generate';
import type { Panel } from '../grafana';
import { dashboardUids } from '../uids';

const panels = (list: Panel[]): Panel[] => list.flatMap((p) => [p, ...panels(p.panels ?? [])]);
const dashboards = allDashboards();

describe('generated dashboards', () => {
  it('are current: dashboards/generated matches what dashboards/*.ts generate (run `npm run dashboards:generate`)', () => {
    const expected = renderAll();
    const onDisk = fs.readdirSync(generatedDir).sort();
    expect(onDisk).toEqual(Object.keys(expected).sort());
    for (const [file, content] of Object.entries(expected)) {
      expect({ file, content: fs.readFileSync(path.join(generatedDir, file), 'utf8') }).toEqual({ file, content });
    }
  });

  it('cover overview, runtime, dependencies and operations with the stable UIDs', () => {
    expect(dashboards.map((d) => d.uid).sort()).toEqual(Object.values(dashboardUids).sort());
  });

  it('ship a Grafana file-provisioning config', () => {
    const config = parse(fs.readFileSync(path.join(generatedDir, 'provisioning.yaml'), 'utf8')) as { apiVersion: number; providers: { type: string; options: { path: string } }[] };
    expect(config.apiVersion).toBe(1);
    expect(config.providers[0]).toMatchObject({ type: 'file', options: { path: expect.stringContaining('/dashboards/') } });
  });
});

describe.each(dashboards.map((d) => [d.uid, d] as const))('dashboard %s', (_uid, d) => {
  it('templates the data source, job and instance', () => {
    expect(d.templating.list.map((v) => v.name)).toEqual(['datasource', 'job', 'instance']);
    expect(d.templating.list[0]).toMatchObject({ type: 'datasource', query: 'prometheus' });
  });

  it('queries only through the templated data source and filters every core query by $job', () => {
    for (const p of panels(d.panels).filter((p) => p.type !== 'row')) {
      expect(p.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      for (const t of p.targets ?? []) {
        expect(t.datasource.uid).toBe('${datasource}');
        const readsCore = /\b(chat_|http_request_|nodejs_|process_|job:)/.test(t.expr);
        if (readsCore) expect({ panel: p.title, expr: t.expr, job: t.expr.includes('job=~"$job"') }).toMatchObject({ job: true });
      }
    }
  });

  it('uses $__rate_interval for every rate() and increase() except SLO-period windows', () => {
    for (const p of panels(d.panels)) {
      for (const t of p.targets ?? []) {
        for (const m of t.expr.matchAll(/\b(rate|increase|irate)\([^[]*\[([^\]]+)\]/g)) {
          expect({ panel: p.title, window: m[2] }).toEqual({ panel: p.title, window: m[2] === '30d' ? '30d' : '$__rate_interval' });
        }
      }
    }
  });

  it('has unique panel ids, a description on every panel and a sane grid', () => {
    const all = panels(d.panels);
    expect(new Set(all.map((p) => p.id)).size).toBe(all.length);
    for (const p of all) {
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      if (p.type !== 'row') expect((p.description ?? '').length).toBeGreaterThan(10);
    }
  });
});
