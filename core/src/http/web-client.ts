import express, { type Router } from 'express';
import fs from 'node:fs';
import path from 'node:path';
import helmet from 'helmet';
import { AppError } from '../errors';

/** Where the reference web client is served (WEB_CLIENT_DIR set); `/` redirects here. */
export const webClientPath = '/app/';

/**
 * Serves the built reference web client (core/client/web, built by `npm run build:client` into
 * core/client/dist/web) as static files. Only mounted when WEB_CLIENT_DIR is set: production does not
 * serve it unless someone configures it. The page talks to this same origin (API and Socket.IO), so
 * no CORS is needed. A directory without index.html answers 503 naming the command that builds it.
 */
export function webClientRouter(dir: string, options: { storageOrigin?: string | undefined } = {}): Router {
  const router = express.Router();
  // helmet's default policy, minus upgrade-insecure-requests (plain http on a developer's machine
  // would be upgraded to https and fail) and with blob: images (attachment previews before upload).
  // With attachments on, the bucket's origin too: the page PUTs uploads to presigned URLs there and
  // shows images from presigned GETs (both short-lived, issued by the core to members).
  const storage = options.storageOrigin ? [options.storageOrigin] : [];
  router.use(helmet.contentSecurityPolicy({ directives: { 'upgrade-insecure-requests': null, 'img-src': ["'self'", 'data:', 'blob:', ...storage], 'connect-src': ["'self'", ...storage] } }));
  router.use((_req, _res, next) => {
    if (!fs.existsSync(path.join(dir, 'index.html'))) {
      throw new AppError('unavailable', `The reference web client is not built in ${dir}: run npm run build:client`);
    }
    next();
  });
  router.use(express.static(dir, { index: 'index.html', fallthrough: true, maxAge: 0 }));
  return router;
}
