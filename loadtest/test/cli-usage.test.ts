import { main, USAGE } from '../cli';
import { EXIT } from '../lib/gate';

/** The CLI answers --help with its usage, and an unknown option with what was wrong and the usage: never a harness fault's stack. */
describe('loadtest CLI usage', () => {
  let logged: string[];
  let spy: jest.SpyInstance;
  beforeEach(() => {
    logged = [];
    spy = jest.spyOn(console, 'error').mockImplementation((line: unknown) => { logged.push(String(line)); });
  });
  afterEach(() => spy.mockRestore());

  it('prints the usage for --help and exits 0', async () => {
    expect((await main(['--help'])).exitCode).toBe(EXIT.pass);
    expect(logged.join('\n')).toContain(USAGE);
    expect(USAGE).toMatch(/--profile full/);
    expect(USAGE).toMatch(/Exit codes: 0 pass, 3 a target breached/);
  });

  it('names an unknown option, prints the usage and exits 2 without a stack', async () => {
    expect((await main(['--profle', 'full'])).exitCode).toBe(EXIT.fault);
    const out = logged.join('\n');
    expect(out).toMatch(/Unknown option '--profle'/);
    expect(out).toContain(USAGE);
    expect(out).not.toMatch(/HARNESS FAULT|at parseArgs/);
  });

  it('refuses a --heap-prof mode it does not know, before starting anything', async () => {
    expect((await main(['--heap-prof', 'everything'])).exitCode).toBe(EXIT.fault);
    const out = logged.join('\n');
    expect(out).toMatch(/--heap-prof takes survivors or all, not everything/);
    expect(out).toContain(USAGE);
    expect(out).not.toMatch(/preflight: node|HARNESS FAULT/);
  });
});
