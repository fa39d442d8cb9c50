import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Handler } from './context.ts';

/** PUBLIC_DIR: the static pages and assets, beside lib/. */
export const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));

/** CONTENT_TYPES maps the extensions public/ uses to their Content-Type; text types carry a charset. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml; charset=utf-8',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
};

/** StaticFile is one asset, read and fingerprinted once at start-up. */
export interface StaticFile {
  body: Buffer;
  contentType: string;
  etag: string;
}

/**
 * loadStaticFiles reads every asset under `publicDir` into a map from URL
 * path ("/style.css", "/js/api.js") to its bytes, type and ETag.
 *
 * This is the whole defence against path traversal for static files: a
 * request is answered only if its path is a key of this map, built from
 * the directory listing, so no `..`, `%2e`, backslash or NUL in a URL can
 * name a file outside public/. HTML pages are left out: they are served
 * only through their routes, which check sign-in first (lib/pages.ts).
 * Files of an unknown type, symbolic links, dot files and every file inside
 * a dot folder (at any depth) are left out too.
 */
export function loadStaticFiles(publicDir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const entry of readdirSync(publicDir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const contentType = CONTENT_TYPES[path.extname(entry.name).toLowerCase()];
    if (contentType === undefined) continue;
    // Node 20.0–20.11 name the folder `path`; `parentPath` came in 20.12, when `path` was deprecated.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition, @typescript-eslint/no-deprecated -- both, for Node 20 before 20.12
    const absolute = path.join(entry.parentPath ?? entry.path, entry.name);
    const segments = path.relative(publicDir, absolute).split(path.sep);
    // Every segment, not only the file's own name: a dot folder (.git/, .vscode/) hides all below it.
    if (segments.some((segment) => segment.startsWith('.'))) continue;
    const urlPath = `/${segments.join('/')}`;
    const body = readFileSync(absolute);
    files.set(urlPath, { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
  }
  return files;
}

/**
 * isFresh tells whether the client's `If-None-Match` already names `etag`,
 * so a 304 with no body will do. `*` and weak validators (W/) match too.
 */
export function isFresh(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === '*' || tag === etag || tag === `W/${etag}`;
  });
}

/**
 * serveStatic answers GET and HEAD for one asset: 200 with its bytes, or
 * 304 when the client's copy is current. Every answer asks the browser to
 * revalidate: cheap with the ETag, and an edited file shows at once.
 */
export function serveStatic(file: StaticFile): Handler {
  return async ({ req, res }) => {
    res.setHeader('ETag', file.etag);
    res.setHeader('Cache-Control', 'no-cache');
    if (isFresh(req.headers['if-none-match'], file.etag)) {
      res.writeHead(304).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': file.contentType, 'Content-Length': file.body.length }).end(file.body);
  };
}
