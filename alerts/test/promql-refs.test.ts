import { metricRefs, variableQueryRefs } from '../promql-refs';

describe('metricRefs', () => {
  it('finds selectors with their enclosing function, range and label names', () => {
    const refs = metricRefs('histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket{job=~"$job",route!~"/health|/ready"}[$__rate_interval])))');
    expect(refs).toEqual([{ name: 'http_request_duration_seconds_bucket', enclosing: 'rate', range: true, labels: ['job', 'route'] }]);
  });

  it('sees a counter read without rate, and ignores keywords, grouping lists and strings', () => {
    const refs = metricRefs('sum by (job) (chat_messages_total{transport="by"}) / ignoring (route) group_left sum(up{job="x"}) unless on (job) chat_ready == bool 1 offset 5m');
    expect(refs.map((r) => [r.name, r.enclosing, r.range])).toEqual([
      ['chat_messages_total', 'sum', false],
      ['up', 'sum', false],
      ['chat_ready', '', false],
    ]);
  });

  it('reads recording rule names and absent()', () => {
    expect(metricRefs('absent(up{job="switchboard"} == 1)').map((r) => [r.name, r.enclosing])).toEqual([['up', 'absent']]);
    expect(metricRefs('job:switchboard_api_errors:ratio_rate1h{job="s"} > 0.0144').map((r) => r.name)).toEqual(['job:switchboard_api_errors:ratio_rate1h']);
  });

  it('reads Grafana variable queries', () => {
    expect(variableQueryRefs('label_values(chat_build_info{job=~"$job"}, instance)').map((r) => r.name)).toEqual(['chat_build_info']);
    expect(variableQueryRefs('label_values(chat_build_info, job)').map((r) => r.name)).toEqual(['chat_build_info']);
  });
});
