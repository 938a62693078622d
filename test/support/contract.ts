/**
 * The OpenAPI document as a test oracle: the routes an Express app really serves (its router stack,
 * walked), and a check of any answer against the document (status, content type, body schema and
 * required headers), with ajv in JSON Schema 2020-12 mode.
 */
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { Express } from 'express';

/** `METHOD /path/{param}` for every route the app serves (Express 5: app.router, nested routers' stacks). */
export function servedRoutes(app: Express): string[] {
  const out = new Set<string>();
  const walk = (stack: { route?: { path: string | string[]; methods: Record<string, boolean> }; handle?: { stack?: unknown[] } }[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const path of [layer.route.path].flat()) {
          for (const [method, on] of Object.entries(layer.route.methods)) {
            if (on && method !== '_all') out.add(`${method.toUpperCase()} ${path.replace(/:(\w+)/g, '{$1}')}`);
          }
        }
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack as typeof stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: [] } }).router.stack);
  return [...out].sort();
}

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { headers?: Record<string, { required?: boolean; $ref?: string }>; content?: Record<string, { schema: unknown }> }> }>>; components: { headers: Record<string, { required?: boolean }> } };

export function documentedRoutes(doc: Doc): string[] {
  return Object.entries(doc.paths)
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
}

/** Finds the documented operation for a concrete method and URL path. */
function operationFor(doc: Doc, method: string, pathname: string) {
  const candidates = Object.keys(doc.paths)
    .map((template) => ({
      template,
      re: new RegExp(`^${template.split('/').map((seg) => (/^\{\w+\}$/.test(seg) ? '[^/]+' : seg.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))).join('/')}$`),
    }))
    // A literal segment beats a parameter: /v1/webhooks/payments before /v1/webhooks/{source}.
    .sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0));
  const hit = candidates.find((c) => c.re.test(pathname) && doc.paths[c.template]![method.toLowerCase()]);
  return hit ? { template: hit.template, operation: doc.paths[hit.template]![method.toLowerCase()]! } : undefined;
}

export interface ContractCheck {
  /** Throws with every way this answer departs from the document. */
  check(method: string, url: string, status: number, headers: Headers, body: string): void;
}

export function contractChecker(doc: Doc): ContractCheck {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'doc', components: doc.components } as object);
  const validators = new Map<string, ValidateFunction>();
  const validatorFor = (key: string, schema: unknown) => {
    let v = validators.get(key);
    if (!v) {
      // `#/components/schemas/X` inside the document resolves against the whole document.
      v = ajv.compile(JSON.parse(JSON.stringify(schema).replace(/"#\/components\//g, '"doc#/components/')) as object);
      validators.set(key, v);
    }
    return v;
  };
  return {
    check(method, url, status, headers, body) {
      const { pathname } = new URL(url);
      const found = operationFor(doc, method, pathname);
      const where = `${method} ${pathname} → ${status}`;
      if (!found) {
        // No operation: the one answer allowed is the edge's own 404 problem.
        const problem = validatorFor('Problem', { $ref: '#/components/schemas/Problem' });
        if (status === 404 && headers.get('content-type')?.startsWith('application/problem+json') && problem(JSON.parse(body))) return;
        throw new Error(`${where}: no such operation in the OpenAPI document, and not a 404 problem`);
      }
      const response = found.operation.responses[String(status)];
      if (!response) throw new Error(`${where}: status not documented for ${found.template} (documented: ${Object.keys(found.operation.responses).join(', ')})`);
      const problems: string[] = [];
      for (const [name, h] of Object.entries(response.headers ?? {})) {
        const header = h.$ref ? doc.components.headers[h.$ref.split('/').pop()!] : h;
        if (header?.required && !headers.has(name)) problems.push(`missing required header ${name}`);
      }
      const type = (headers.get('content-type') ?? '').split(';')[0]!.trim();
      if (response.content) {
        const media = response.content[type];
        if (!media) problems.push(`content type ${type || '(none)'} not documented (${Object.keys(response.content).join(', ')})`);
        else if (type.endsWith('json')) {
          const validate = validatorFor(`${found.template} ${method} ${status} ${type}`, media.schema);
          let parsed: unknown;
          try {
            parsed = JSON.parse(body);
          } catch {
            problems.push('body is not JSON');
          }
          if (parsed !== undefined && !validate(parsed)) problems.push(`body does not match the schema: ${ajv.errorsText(validate.errors)}`);
        }
      }
      if (problems.length) throw new Error(`${where}: ${problems.join('; ')}\n${body.slice(0, 500)}`);
    },
  };
}

const checkers = new Map<string, ContractCheck>();
let unchecked: typeof fetch | undefined;

const checkedFetch: typeof fetch = async (input, init) => {
  const res = await unchecked!(input, init);
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  const { origin, pathname } = new URL(url);
  const checker = checkers.get(origin);
  const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
  // Swagger UI's own assets and CORS preflights are not API answers.
  if (!checker || pathname.startsWith('/docs') || method.toUpperCase() === 'OPTIONS') return res;
  checker.check(method, url, res.status, res.headers, await res.clone().text());
  return res;
};

/**
 * Checks every answer from `baseUrl` (an origin) that a test receives through fetch against the
 * document; an answer that departs from it fails the test at the fetch that received it. Returns
 * the uninstaller.
 */
export function checkResponsesAgainst(baseUrl: string, doc: Doc): () => void {
  checkers.set(new URL(baseUrl).origin, contractChecker(doc));
  if (!unchecked) {
    unchecked = globalThis.fetch;
    globalThis.fetch = checkedFetch;
  }
  return () => {
    checkers.delete(new URL(baseUrl).origin);
    if (checkers.size === 0 && unchecked) {
      globalThis.fetch = unchecked;
      unchecked = undefined;
    }
  };
}
