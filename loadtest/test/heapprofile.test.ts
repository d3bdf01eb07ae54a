import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { heapProfileFile, summarizeHeapProfile } from '../lib/heapprofile';

const frame = (functionName: string, url: string, lineNumber = 0) => ({ functionName, url, lineNumber, columnNumber: 0, scriptId: '0' });

test('a sampling heap profile is summed per allocating function and per area, children excluded from self', () => {
  const profile = {
    head: {
      id: 1, selfSize: 0, callFrame: frame('(root)', ''), children: [
        { id: 2, selfSize: 3 * 1_048_576, callFrame: frame('writeToEngine', 'file:///w/node_modules/socket.io/dist/client.js', 171), children: [
          { id: 3, selfSize: 1_048_576, callFrame: frame('frame', 'file:///w/node_modules/ws/lib/sender.js', 78), children: [] },
        ] },
        // The same function reached by another path adds to the same line.
        { id: 4, selfSize: 1_048_576, callFrame: frame('writeToEngine', 'file:///w/node_modules/socket.io/dist/client.js', 171), children: [] },
        { id: 5, selfSize: 5 * 1_048_576, callFrame: frame('flush', 'file:///w/core/src/chat/send-batcher.ts', 197), children: [] },
      ],
    },
    samples: [],
  };
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'heapprofile-')), 'x.cpuprofile');
  fs.writeFileSync(heapProfileFile(file), JSON.stringify(profile));
  expect(heapProfileFile(file)).toMatch(/x\.heapprofile$/);
  const summary = summarizeHeapProfile(heapProfileFile(file));
  expect(summary.totalMB).toBe(10);
  expect(summary.topFunctions.map((f) => [f.name, f.MB, f.share])).toEqual([
    ['flush', 5, 50],
    ['writeToEngine', 4, 40],
    ['frame', 1, 10],
  ]);
  expect(summary.byArea).toEqual([
    { area: 'core/src/chat', MB: 5, share: 50 },
    { area: 'socket.io', MB: 4, share: 40 },
    { area: 'ws', MB: 1, share: 10 },
  ]);
});
