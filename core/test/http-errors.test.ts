import net from 'node:net';
import { classifyHttpError } from '../src/http/error-handler';
import { startTestCore, type TestCore } from './harness';

/**
 * Errors raised by Express itself and by body-parser keep their 4xx status and leave in the one
 * problem shape (application/problem+json with a stable `code`), never as 500 `internal`.
 */
let t: TestCore;
let convId: string;
beforeAll(async () => {
  t = await startTestCore({ HTTP_BODY_LIMIT_BYTES: '2048' });
  convId = (await t.api('ivy', 'POST', '/api/conversations', { type: 'group', name: 'errs', memberIds: ['jon'] })).body.id;
});
afterAll(async () => {
  await t.stop();
});

const expectProblem = (res: { status: number; body: any; headers: Headers }, status: number, code: string) => {
  expect({ status: res.status, code: res.body?.code }).toEqual({ status, code });
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ type: `https://switchboard.dev/problems/${code}`, status, detail: expect.any(String) });
};

/** Sends a raw HTTP/1.1 request and returns the status line's code and the body. */
function rawRequest(request: string, endEarly = false): Promise<{ status: number; body: string }> {
  const { port } = new URL(t.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => {
      socket.write(request);
      if (endEarly) socket.end();
    });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => (data += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      resolve({ status, body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
  });
}

describe('Express and body-parser errors keep their 4xx status', () => {
  it('malformed JSON: 400 validation_failed', async () => {
    expectProblem(await t.api('ivy', 'POST', `/api/conversations/${convId}/messages`, '{"clientMsgId": '), 400, 'validation_failed');
  });

  it('a body over HTTP_BODY_LIMIT_BYTES: 413 payload_too_large', async () => {
    expectProblem(await t.api('ivy', 'POST', `/api/conversations/${convId}/messages`, { clientMsgId: 'big', text: 'x'.repeat(4096) }), 413, 'payload_too_large');
  });

  it('a body that is not JSON: 415 unsupported_media_type', async () => {
    expectProblem(await t.api('ivy', 'POST', `/api/conversations/${convId}/messages`, 'text=hi', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type');
  });

  it('an unsupported charset or content encoding: 415', async () => {
    expectProblem(await t.api('ivy', 'POST', `/api/conversations/${convId}/messages`, '{}', { 'content-type': 'application/json; charset=klingon' }), 415, 'unsupported_media_type');
    expectProblem(await t.api('ivy', 'POST', `/api/conversations/${convId}/messages`, '{}', { 'content-type': 'application/json', 'content-encoding': 'rot13' }), 415, 'unsupported_media_type');
  });

  it('a path parameter that is not valid percent-encoding: 400, not 500', async () => {
    expectProblem(await t.api('ivy', 'DELETE', `/api/conversations/${convId}/members/%E0%A4%A`), 400, 'validation_failed');
  });

  it('a body shorter than its Content-Length (client gave up): 400, not 500', async () => {
    const token = await t.token('ivy');
    const res = await rawRequest(
      `POST /api/conversations/${convId}/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"clientMsgId":"a"`,
      true,
    );
    // The client closed its side: either no answer reached it, or the answer is a 4xx problem. Never 500.
    expect(res.status === 0 || (res.status >= 400 && res.status < 500)).toBe(true);
    const health = await fetch(`${t.url}/health`);
    expect(health.status).toBe(200);
  });

  it('an undecodable conversation id in the path is a 4xx too', async () => {
    const res = await t.api('ivy', 'GET', `/api/conversations/%E0%A4%A`);
    expect(res.status).toBeLessThan(500);
  });
});

describe('classifyHttpError (the errors a live request can hardly provoke)', () => {
  // The shapes body-parser (raw-body, http-errors) raises: `status`, `expose` and a `type`.
  const bodyParserError = (status: number, type: string) => Object.assign(new Error('from body-parser'), { status, statusCode: status, expose: true, type });
  it.each([
    ['request.aborted', 400, 'validation_failed'],
    ['request.size.invalid', 400, 'validation_failed'],
    ['entity.verify.failed', 403, 'forbidden'],
    ['parameters.too.many', 413, 'payload_too_large'],
    ['entity.too.large', 413, 'payload_too_large'],
    ['encoding.unsupported', 415, 'unsupported_media_type'],
  ])('%s keeps %i (%s)', (type, status, code) => {
    const appError = classifyHttpError(bodyParserError(status, type));
    expect({ status: appError.status, code: appError.code }).toEqual({ status, code });
  });

  it('a 4xx without a code of ours becomes 400, a server-side body error stays 500', () => {
    expect(classifyHttpError(bodyParserError(411, 'x')).status).toBe(400);
    expect(classifyHttpError(Object.assign(new Error('stream'), { status: 500, type: 'stream.not.readable' })).code).toBe('internal');
  });
});
