import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { HttpResponse, Route } from '../server.js';

/**
 * Only this origin's script, style and fetches: the page has no inline code, so
 * an id or a label drawn into it can never run as script.
 */
const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const asset = (name: string) => readFileSync(new URL(`../ui/${name}`, import.meta.url), 'utf8');

/** dagre's ES module build (one self-contained file, graphlib included), the one file the page imports from node_modules. */
const layoutLibrary = () => readFileSync(fileURLToPath(import.meta.resolve('@dagrejs/dagre')), 'utf8');

/**
 * The lineage viewer: /ui/jobs/{id} serves one static page (it reads the id
 * from its own location) with its script and style, from src/http/ui (copied
 * to dist by the build), and the layout library at one fixed path: each route
 * is one file read at start-up, so no request names a file. The page calls the
 * public REST routes and /events with the user's credential, so it sees
 * exactly what the caller may see.
 */
export function uiRoutes(): Route[] {
  const page = answer('text/html; charset=utf-8', asset('viewer.html'));
  const script = answer('text/javascript; charset=utf-8', asset('viewer.js'));
  const style = answer('text/css; charset=utf-8', asset('viewer.css'));
  const dagre = answer('text/javascript; charset=utf-8', layoutLibrary());
  return [
    { method: 'GET', path: '/ui/jobs/', prefix: true, handle: async () => page },
    { method: 'GET', path: '/ui/viewer.js', handle: async () => script },
    { method: 'GET', path: '/ui/viewer.css', handle: async () => style },
    { method: 'GET', path: '/ui/lib/dagre.js', handle: async () => dagre },
  ];
}

function answer(contentType: string, body: string): HttpResponse {
  return { status: 200, contentType, body, headers: { 'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache' } };
}
