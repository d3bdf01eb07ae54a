import { Readable } from 'node:stream';
import { LineSplitter } from '../codec';

async function split(chunks: string[]): Promise<string[]> {
  const out: string[] = [];
  for await (const line of Readable.from(chunks.map((c) => Buffer.from(c))).pipe(new LineSplitter())) out.push(line as string);
  return out;
}

test('lines split across chunks, multi-byte characters cut in half, long lines', async () => {
  const euro = Buffer.from('€'); // 3 bytes
  const chunks = [Buffer.from('{"a":1}\n{"b":"'), euro.subarray(0, 1), euro.subarray(1), Buffer.from('x"}\n'), Buffer.from('y'.repeat(100_000)), Buffer.from('z\n')];
  const out: string[] = [];
  for await (const line of Readable.from(chunks).pipe(new LineSplitter())) out.push(line as string);
  expect(out).toEqual(['{"a":1}', '{"b":"€x"}', `${'y'.repeat(100_000)}z`]);
  expect(await split(['a\nb\n', '\n'])).toEqual(['a', 'b', '']);
});

test('a truncated archive (no final newline) is an error', async () => {
  await expect(split(['{"a":1}\n{"b"'])).rejects.toThrow(/ends in the middle of a document \(4 trailing bytes/);
});
