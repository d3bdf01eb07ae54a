import { QUIET_P95_RATIO_MAX, targets } from '../targets';
import { profiles } from '../profiles';

const line = (profile: string, scenario: string, metric: string) => targets[profile]!.rules.find((r) => r.scenario === scenario && r.metric === metric);

describe('targets file', () => {
  it('is at least as strict as the seeds of issue 8 in every profile', () => {
    for (const profile of ['short', 'full']) {
      for (const ep of ['list', 'history', 'send', 'mixed']) expect(line(profile, `api.${ep}`, 'p95')!.max).toBeLessThan(500);
      const rt = `rt.1k.core`;
      expect(line(profile, rt, 'deliveryP95')!.max).toBeLessThan(2_000);
      expect(line(profile, rt, 'lost')!.max).toBe(0);
      expect(line(profile, rt, 'duplicated')!.max).toBe(0);
    }
  });

  it('the short profile runs at least the seed load: 1,000 sockets at ≥ 100 msg/s (300: the CPU line needs it)', () => {
    const run = profiles.short!.realtime.runs.find((r) => r.id === '1k')!;
    expect(run.sockets).toBe(1_000);
    expect(run.rate).toBeGreaterThanOrEqual(100);
  });

  it('the short gate\'s latency-ratio lines are no looser than 3× the quiet-run ratios (issue 23)', () => {
    for (const scenario of ['api.list', 'api.history', 'api.send', 'api.mixed', 'rt.1k.core']) {
      const metric = scenario.startsWith('rt.') ? 'deliveryP95RatioToBaseline' : 'p95RatioToBaseline';
      const quiet = QUIET_P95_RATIO_MAX[scenario];
      expect({ scenario, quiet }).toEqual({ scenario, quiet: expect.any(Number) });
      expect({ scenario, max: line('short', scenario, metric)!.max }).toEqual({ scenario, max: expect.any(Number) });
      expect(line('short', scenario, metric)!.max!).toBeLessThanOrEqual(3 * quiet! + 1e-9);
    }
  });

  it('every profile with targets exists and every rule names a metric', () => {
    for (const [name, t] of Object.entries(targets)) {
      expect(profiles[name]).toBeDefined();
      for (const r of t.rules) expect(r.max !== undefined || r.min !== undefined).toBe(true);
    }
  });
});
