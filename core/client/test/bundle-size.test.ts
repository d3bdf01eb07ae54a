import { measureBundle, sizeBudgetBytes } from '../build';

describe('@switchboard/client bundle', () => {
  it('stays within 25 KB gzipped without socket.io-client', async () => {
    const { gzipped, minified } = await measureBundle();
    expect(minified).toBeGreaterThan(1_000); // it did bundle something
    expect(gzipped).toBeLessThanOrEqual(sizeBudgetBytes);
  });
});
