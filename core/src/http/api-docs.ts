import express, { type Router } from 'express';
import helmet from 'helmet';
import path from 'node:path';
import { AppError } from '../errors';

/** Where the browsable API docs are served (API_DOCS, on by default); the document itself is /api/openapi.json. */
export const apiDocsPath = '/api/docs';
const specPath = '/api/openapi.json';

/**
 * The renderer is Swagger UI from npm (swagger-ui-dist), served from node_modules: no CDN, no bundler.
 * Chosen over Redoc and Scalar for what it adds to the production image: swagger-ui-dist ships its
 * self-contained browser bundle and stylesheet with one dependency (@scarf/scarf, whose install
 * script is not run: `allowScripts` in package.json); redoc 2 pulls 115 packages (React, MobX,
 * styled-components…), redoc 3 needs Node ≥ 22 and a dependency version the registry lacks, and
 * @scalar/api-reference pulls 284.
 * Only these two files of the package are served (not its sample index.html, source maps or the
 * OAuth redirect page). `require.resolve` makes the package a runtime dependency the image check
 * (ops/build/runtime-modules.ts) follows.
 */
const rendererDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
export const apiDocsAssets = ['swagger-ui-bundle.js', 'swagger-ui.css'] as const;
export const apiDocsRendererPackage = 'swagger-ui-dist';

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${apiDocsPath}/swagger-ui.css">
</head>
<body>
<main id="swagger-ui"><noscript>The API docs need JavaScript; the document is at <a href="${specPath}">${specPath}</a>.</noscript></main>
<script src="${apiDocsPath}/swagger-ui-bundle.js"></script>
<script src="${apiDocsPath}/init.js"></script>
</body>
</html>
`;

/**
 * An external script, not an inline one, so the CSP needs no 'unsafe-inline' for scripts. BaseLayout:
 * no top bar, so no box that loads another URL's document into this origin's page; no validator
 * badge (it would call validator.swagger.io); "Try it out" calls this same origin with the bearer
 * token typed into Authorize, kept in memory only (persistAuthorization off).
 */
const init = `window.ui = SwaggerUIBundle({
  url: ${JSON.stringify(specPath)},
  dom_id: '#swagger-ui',
  layout: 'BaseLayout',
  presets: [SwaggerUIBundle.presets.apis],
  deepLinking: true,
  validatorUrl: null,
  queryConfigEnabled: false,
  persistAuthorization: false,
});
`;

/**
 * The docs page's CSP, scoped to these routes: everything from this origin only, plus data: images
 * (the stylesheet's icons). Swagger UI needs no inline styles (React sets styles through the CSSOM,
 * which CSP does not govern), no eval, no workers, no fonts, no frames: the browser test
 * (core/client/test/api-docs.e2e.test.ts) fails on any violation, so a renderer update that needs more shows there.
 * No upgrade-insecure-requests: plain http on a developer's machine would be upgraded and fail.
 */
export const apiDocsCsp = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
};

/** GET /api/docs (the page), its init script and the renderer's two files; mounted at apiDocsPath. */
export function apiDocsRouter(): Router {
  const router = express.Router();
  router.use(helmet.contentSecurityPolicy({ useDefaults: false, directives: apiDocsCsp }));
  router.get('/', (_req, res) => {
    res.type('html').send(page);
  });
  router.get('/init.js', (_req, res) => {
    res.type('text/javascript').send(init);
  });
  for (const file of apiDocsAssets) {
    // ETag and Last-Modified give revalidation (304); the URL carries no version, so no long max-age.
    router.get(`/${file}`, (_req, res, next) => res.sendFile(path.join(rendererDir, file), { maxAge: 0 }, (error) => error && next(error)));
  }
  router.use(notFound(`No such file of the API docs; the page is ${apiDocsPath}, the OpenAPI document ${specPath}.`));
  return router;
}

/** With API_DOCS=false the path answers 404 for everyone (not the API's 401 for a request without a token). */
export function apiDocsDisabled(): Router {
  const router = express.Router();
  router.use(notFound(`The API docs page is turned off on this instance (API_DOCS=false); the OpenAPI document is at ${specPath}.`));
  return router;
}

/** Anything else under /api/docs is a 404 here, never the API router's 401 for a request without a token. */
const notFound = (detail: string) => () => {
  throw new AppError('not_found', detail);
};
