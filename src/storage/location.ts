/**
 * Where a file lives: a local path, or a URL (s3://, gs://, hf://, https://). A URL stays a string all
 * through the pipeline, so code that joins paths keeps working: `path.join('s3://b/x', 'data')` gives
 * `s3:/b/x/data` (path collapses the double slash), which is read back here as the same URL.
 */
import path from 'node:path';

export type Scheme = 's3' | 'gs' | 'hf' | 'https' | 'http';

const URL_RE = /^(s3|gs|hf|https?):\/\/?(.*)$/s;

/** True for a URL that a remote backend serves; false for a local path (including `file://`-less relative paths). */
export function isRemote(p: string): boolean {
  return URL_RE.test(p);
}

/** The URL in its canonical form (`s3:/b/k` → `s3://b/k`), or the local path unchanged. */
export function normalize(p: string): string {
  const m = URL_RE.exec(p);
  return m ? `${m[1]}://${m[2]!.replace(/^\/+/, '')}` : p;
}

export interface Parsed {
  scheme: Scheme;
  /** Bucket (s3, gs), host (http), or `datasets/OWNER/NAME` (hf). */
  root: string;
  /** Key inside it, without a leading slash. */
  key: string;
  /** hf only: the revision (`@rev` after the repo name; default main). */
  revision?: string;
}

export function parse(p: string): Parsed {
  const m = URL_RE.exec(p);
  if (!m) throw new Error(`${p} is not a storage URL`);
  const scheme = m[1] as Scheme;
  const rest = m[2]!.replace(/^\/+/, '');
  if (scheme === 'hf') {
    // hf://datasets/OWNER/NAME[@REV]/PATH (also models/ and spaces/)
    const parts = rest.split('/');
    const type = ['datasets', 'models', 'spaces'].includes(parts[0]!) ? parts.shift()! : 'datasets';
    const owner = parts.shift() ?? '';
    let name = parts.shift() ?? '';
    let revision = 'main';
    const at = name.indexOf('@');
    if (at >= 0) {
      revision = decodeURIComponent(name.slice(at + 1));
      name = name.slice(0, at);
    }
    if (!owner || !name) throw new Error(`${redact(p)}: an hf:// URL is hf://datasets/OWNER/NAME/PATH`);
    return { scheme, root: `${type}/${owner}/${name}`, key: parts.join('/'), revision };
  }
  const slash = rest.indexOf('/');
  return { scheme, root: slash < 0 ? rest : rest.slice(0, slash), key: slash < 0 ? '' : rest.slice(slash + 1) };
}

export function format(p: Parsed): string {
  if (p.scheme === 'hf') {
    const [type, owner, name] = p.root.split('/');
    const rev = p.revision && p.revision !== 'main' ? `@${p.revision}` : '';
    return `hf://${type}/${owner}/${name}${rev}${p.key ? '/' + p.key : ''}`;
  }
  return `${p.scheme}://${p.root}${p.key ? '/' + p.key : ''}`;
}

/** path.resolve for a local path; a URL in its canonical form. */
export function resolve(p: string): string {
  return isRemote(p) ? normalize(p) : path.resolve(p);
}

/** Joins a folder (path or URL) and a relative name. */
export function join(dir: string, ...names: string[]): string {
  if (!isRemote(dir)) return [dir, ...names].join('/').replace(/\/+/g, '/');
  let out = normalize(dir).replace(/\/+$/, '');
  for (const n of names) out += '/' + n.replace(/^\/+/, '');
  return out;
}

/** The secret values this process knows of: they are cut out of every message that leaves the storage layer. */
function secrets(): string[] {
  const env = process.env;
  return [env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN, env.AWS_ACCESS_KEY_ID, env.HF_TOKEN, env.HUGGING_FACE_HUB_TOKEN, env.GOOGLE_HMAC_SECRET]
    .filter((s): s is string => typeof s === 'string' && s.length >= 4);
}

/**
 * A message or URL with its credentials removed: user:password in URLs, signing and token query
 * parameters, bearer and AWS authorization headers, and the literal values of credential variables.
 */
export function redact(s: string): string {
  let out = s
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s:]+(?::[^/@\s]*)?@/gi, '$1***@')
    .replace(/([?&](?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|AWSAccessKeyId|token|access_token|sig)=)[^&\s"']*/gi, '$1***')
    .replace(/(authorization["']?\s*[:=]\s*["']?)[^\n"']*/gi, '$1***')
    .replace(/\b(Signature|Credential|SignedHeaders)=[^\s,&;"']+/g, '$1=***')
    .replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/g, 'Bearer ***');
  for (const v of secrets()) out = out.split(v).join('***');
  return out;
}
