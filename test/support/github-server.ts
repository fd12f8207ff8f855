/**
 * A local stand-in for the parts of GitHub a ModelGate run talks to, speaking the real wire formats so the
 * real clients (@octokit via @actions/github, @actions/artifact 6 with @azure/storage-blob) run unmodified:
 *
 * - REST issue comments: list (per_page/page + Link header), create, update; 401/403/404/422 as GitHub sends them.
 * - REST artifacts of a run: list, get, and the /zip redirect to a signed blob URL (cross-run download).
 * - REST pull requests (GET, from seeded ones) and check runs (POST), for the publish/merge modes (issue 6).
 * - The artifact v2 service: Twirp JSON at /twirp/github.actions.results.api.v1.ArtifactService/<Method>,
 *   authorized by an ACTIONS_RUNTIME_TOKEN JWT whose `scp` claim carries `Actions.Results:<runId>:<jobId>`.
 * - Azure Blob for the signed URLs: Put Block, Put Block List, Put Blob, Get Blob, with SAS `sig` checking.
 *
 * Every request is recorded, and uploaded artifacts are kept as zip bytes for tests (and later flows) to read.
 * Listens on 127.0.0.1 only, on a random port.
 */
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inflateRawSync } from 'node:zlib';

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export interface IssueComment {
  id: number;
  node_id: string;
  url: string;
  html_url: string;
  issue_url: string;
  body: string;
  user: { login: string; id: number; type: 'Bot' | 'User' };
  created_at: string;
  updated_at: string;
  author_association: string;
  performed_via_github_app: null;
}

export interface StoredArtifact {
  id: number;
  name: string;
  /** The numeric run id of the REST API (GITHUB_RUN_ID). */
  runId: number;
  runBackendId: string;
  jobBackendId: string;
  blobPath: string;
  mimeType: string | undefined;
  finalized: boolean;
  /** The committed blob: the zip as uploaded. */
  zip: Buffer | undefined;
  size: number | undefined;
  /** `sha256:<hex>` as the client reported it at finalize. */
  digest: string | undefined;
  createdAt: Date;
}

export type TokenAccess = 'read' | 'write';

export interface SeededPullRequest {
  number: number;
  state?: 'open' | 'closed';
  headSha: string;
  /** owner/name of the head repository (a fork's for a fork PR). */
  headRepo: string;
  baseSha?: string;
}

export interface CheckRun {
  id: number;
  name: string;
  head_sha: string;
  status: string;
  conclusion: string | null;
  details_url?: string;
  output?: { title?: string; summary?: string; text?: string };
}

/** A zip of the given files, stored (no compression): what a test needs to hand-craft an artifact. */
export function writeZip(files: Record<string, string | Buffer>): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (data: Buffer) => {
    let c = 0xffffffff;
    for (const byte of data) c = crcTable[(c ^ byte) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, content] of Object.entries(files)) {
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
    const nameBytes = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

export interface GitHubServerOptions {
  /** REST tokens and what they may do; a `pull_request` run from a fork gets a read-only one. */
  tokens?: Record<string, TokenAccess>;
  /** The login comments are created as. */
  botLogin?: string;
}

interface InjectedFailure {
  method: string | undefined;
  path: RegExp;
  status: number;
  body: unknown;
  remaining: number;
}

interface BlobState {
  blocks: Map<string, Buffer>;
  committed: Buffer | undefined;
  contentType: string | undefined;
}

const TWIRP_PREFIX = '/twirp/github.actions.results.api.v1.ArtifactService/';
const DOCS = 'https://docs.github.com/rest';

export interface GitHubServer {
  /** http://127.0.0.1:<port>: use as GITHUB_API_URL and ACTIONS_RESULTS_URL. */
  readonly url: string;
  readonly requests: RecordedRequest[];
  readonly artifacts: StoredArtifact[];
  /** The comments of one issue or PR, oldest first. */
  comments(owner: string, repo: string, issueNumber: number): IssueComment[];
  /** Pre-existing comments (another bot, humans), as if posted before the run. */
  seedComments(owner: string, repo: string, issueNumber: number, bodies: string[], login?: string): IssueComment[];
  /** An ACTIONS_RUNTIME_TOKEN for a job of the given workflow run (signed by this server). */
  runtimeToken(runId: number, jobName?: string): string;
  /** issue 6: an artifact as if a job of run `runId` had uploaded these files (a hand-made, possibly hostile, zip). */
  seedArtifact(runId: number, name: string, files: Record<string, string | Buffer>): StoredArtifact;
  /** issue 6: a pull request GET /repos/{owner}/{repo}/pulls/{n} returns. */
  seedPullRequest(owner: string, repo: string, pr: SeededPullRequest): void;
  /** issue 6: check runs created through POST /repos/{owner}/{repo}/check-runs, oldest first. */
  checkRuns(owner: string, repo: string): CheckRun[];
  /** Make matching requests fail with `status` and a JSON body, `times` times. */
  failWith(match: { method?: string; path: RegExp }, status: number, body: unknown, times?: number): void;
  close(): Promise<void>;
}

/** Reads a zip's entries through its central directory (the artifact zip streams sizes in data descriptors). */
export function readZip(zip: Buffer): Map<string, Buffer> {
  const entries = new Map<string, Buffer>();
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip: no end of central directory record');
  const count = zip.readUInt16LE(eocd + 10);
  let offset = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(offset) !== 0x02014b50) throw new Error(`bad central directory entry at ${offset}`);
    const method = zip.readUInt16LE(offset + 10);
    const compressedSize = zip.readUInt32LE(offset + 20);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    const localOffset = zip.readUInt32LE(offset + 42);
    const name = zip.subarray(offset + 46, offset + 46 + nameLength).toString('utf8');
    const localNameLength = zip.readUInt16LE(localOffset + 26);
    const localExtraLength = zip.readUInt16LE(localOffset + 28);
    const dataStart = localOffset + 30 + localNameLength + localExtraLength;
    const data = zip.subarray(dataStart, dataStart + compressedSize);
    if (!name.endsWith('/')) {
      if (method === 0) entries.set(name, Buffer.from(data));
      else if (method === 8) entries.set(name, inflateRawSync(data));
      else throw new Error(`${name}: unsupported zip method ${method}`);
    }
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function githubError(res: ServerResponse, status: number, message: string, docs: string, extra: Record<string, unknown> = {}): void {
  sendJson(res, status, { message, documentation_url: docs, status: String(status), ...extra });
}

function twirpError(res: ServerResponse, status: number, code: string, msg: string): void {
  sendJson(res, status, { code, msg });
}

function blobError(res: ServerResponse, status: number, code: string, message: string): void {
  const text = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'x-ms-error-code': code, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startGitHubServer(options: GitHubServerOptions = {}): Promise<GitHubServer> {
  const tokens = new Map(Object.entries(options.tokens ?? { 'test-token': 'write' as TokenAccess }));
  const botLogin = options.botLogin ?? 'github-actions[bot]';
  const secret = randomBytes(32);
  const requests: RecordedRequest[] = [];
  const artifacts: StoredArtifact[] = [];
  const issues = new Map<string, IssueComment[]>();
  const blobs = new Map<string, BlobState>();
  const runsByBackendId = new Map<string, number>();
  const failures: InjectedFailure[] = [];
  const pullRequests = new Map<string, SeededPullRequest>();
  const checkRuns = new Map<string, CheckRun[]>();
  let nextCheckRunId = 7_000_001;
  const runBackendIdOf = (runId: number) => `00000000-0000-4000-8000-${String(runId).padStart(12, '0').slice(-12)}`;
  let nextCommentId = 1_000_000_001;
  let nextArtifactId = 5_000_001;
  let baseUrl = '';

  const issueKey = (owner: string, repo: string, n: number) => `${owner}/${repo}#${n}`;
  const issueComments = (owner: string, repo: string, n: number) => {
    const key = issueKey(owner, repo, n);
    let list = issues.get(key);
    if (!list) issues.set(key, (list = []));
    return list;
  };

  const makeComment = (owner: string, repo: string, n: number, body: string, login: string): IssueComment => {
    const id = nextCommentId++;
    const now = new Date().toISOString();
    return {
      id,
      node_id: `IC_${base64url(String(id))}`,
      url: `${baseUrl}/repos/${owner}/${repo}/issues/comments/${id}`,
      html_url: `https://github.com/${owner}/${repo}/pull/${n}#issuecomment-${id}`,
      issue_url: `${baseUrl}/repos/${owner}/${repo}/issues/${n}`,
      body,
      user: { login, id: login === botLogin ? 41898282 : 1000 + login.length, type: login.endsWith('[bot]') ? 'Bot' : 'User' },
      created_at: now,
      updated_at: now,
      author_association: login.endsWith('[bot]') ? 'NONE' : 'MEMBER',
      performed_via_github_app: null,
    };
  };

  const sign = (text: string) => createHmac('sha256', secret).update(text).digest('base64url');
  const blobSig = (blobPath: string, permissions: string) => sign(`${permissions}\n${blobPath}`);
  const signedBlobUrl = (blobPath: string, permissions: 'cw' | 'r') => {
    const expiry = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const query = new URLSearchParams({ sv: '2019-12-12', sr: 'b', sp: permissions, se: expiry, sig: blobSig(blobPath, permissions) });
    return `${baseUrl}${blobPath}?${query}`;
  };

  function restAccess(req: IncomingMessage): TokenAccess | undefined {
    const match = /^(?:token|bearer)\s+(.+)$/i.exec(req.headers.authorization ?? '');
    return match ? tokens.get(match[1]!) : undefined;
  }

  /** The run and job a Twirp call is scoped to, from its bearer JWT; undefined if unsigned or malformed. */
  function runtimeScope(req: IncomingMessage): { runBackendId: string; jobBackendId: string } | undefined {
    const match = /^bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    const parts = match?.[1]!.split('.');
    if (!parts || parts.length !== 3 || sign(`${parts[0]}.${parts[1]}`) !== parts[2]) return undefined;
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { scp?: string };
    for (const scope of (claims.scp ?? '').split(' ')) {
      const [name, runBackendId, jobBackendId] = scope.split(':');
      if (name === 'Actions.Results' && runBackendId && jobBackendId) return { runBackendId, jobBackendId };
    }
    return undefined;
  }

  function restArtifact(artifact: StoredArtifact, owner: string, repo: string) {
    const api = `${baseUrl}/repos/${owner}/${repo}/actions/artifacts/${artifact.id}`;
    return {
      id: artifact.id,
      node_id: `MDg6QXJ0aWZhY3Q${artifact.id}`,
      name: artifact.name,
      size_in_bytes: artifact.size ?? 0,
      url: api,
      archive_download_url: `${api}/zip`,
      expired: false,
      digest: artifact.digest ?? null,
      created_at: artifact.createdAt.toISOString(),
      updated_at: artifact.createdAt.toISOString(),
      expires_at: new Date(artifact.createdAt.getTime() + 90 * 86_400_000).toISOString(),
      workflow_run: { id: artifact.runId, repository_id: 1, head_repository_id: 1, head_branch: 'feature', head_sha: '0'.repeat(40) },
    };
  }

  function twirpArtifact(artifact: StoredArtifact) {
    return {
      workflow_run_backend_id: artifact.runBackendId,
      workflow_job_run_backend_id: artifact.jobBackendId,
      database_id: String(artifact.id),
      name: artifact.name,
      size: String(artifact.size ?? 0),
      created_at: artifact.createdAt.toISOString(),
      ...(artifact.digest ? { digest: artifact.digest } : {}),
    };
  }

  async function handleTwirp(req: IncomingMessage, res: ServerResponse, method: string, body: Buffer): Promise<void> {
    if (req.method !== 'POST') return twirpError(res, 404, 'bad_route', `no handler for ${req.method} ${req.url}`);
    const scope = runtimeScope(req);
    if (!scope) return twirpError(res, 401, 'unauthenticated', 'invalid or missing runtime token');
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return twirpError(res, 400, 'malformed', 'request body is not JSON');
    }
    const runBackendId = String(input.workflow_run_backend_id ?? '');
    const jobBackendId = String(input.workflow_job_run_backend_id ?? '');
    const name = String(input.name ?? '');
    const runId = runsByBackendId.get(scope.runBackendId)!;

    switch (method) {
      case 'CreateArtifact': {
        if (runBackendId !== scope.runBackendId || jobBackendId !== scope.jobBackendId) {
          return twirpError(res, 403, 'permission_denied', 'the token does not grant access to this workflow run');
        }
        if (!name) return twirpError(res, 400, 'invalid_argument', 'name is required');
        if (artifacts.some((a) => a.runBackendId === runBackendId && a.name === name && a.finalized)) {
          return twirpError(res, 409, 'already_exists', 'an artifact with this name already exists on the workflow run');
        }
        const blobPath = `/blob/actions-results/${runBackendId}/${jobBackendId}/artifacts/${createHash('sha256').update(`${name}\n${randomUUID()}`).digest('hex')}.zip`;
        const pending = artifacts.findIndex((a) => a.runBackendId === runBackendId && a.name === name && !a.finalized);
        if (pending >= 0) artifacts.splice(pending, 1);
        artifacts.push({
          id: nextArtifactId++,
          name,
          runId,
          runBackendId,
          jobBackendId,
          blobPath,
          mimeType: typeof input.mime_type === 'string' ? input.mime_type : undefined,
          finalized: false,
          zip: undefined,
          size: undefined,
          digest: undefined,
          createdAt: new Date(),
        });
        blobs.set(blobPath, { blocks: new Map(), committed: undefined, contentType: undefined });
        return sendJson(res, 200, { ok: true, signed_upload_url: signedBlobUrl(blobPath, 'cw') });
      }
      case 'FinalizeArtifact': {
        const artifact = artifacts.find((a) => a.runBackendId === runBackendId && a.jobBackendId === jobBackendId && a.name === name && !a.finalized);
        if (!artifact || runBackendId !== scope.runBackendId) return twirpError(res, 404, 'not_found', `no pending artifact named ${name}`);
        const blob = blobs.get(artifact.blobPath)!.committed;
        if (!blob) return twirpError(res, 400, 'failed_precondition', 'the artifact blob was never committed');
        if (String(blob.length) !== String(input.size)) {
          return twirpError(res, 400, 'invalid_argument', `size ${String(input.size)} does not match the uploaded ${blob.length} bytes`);
        }
        const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
        if (input.hash !== undefined && input.hash !== digest) return twirpError(res, 400, 'invalid_argument', `hash ${String(input.hash)} does not match ${digest}`);
        Object.assign(artifact, { finalized: true, zip: blob, size: blob.length, digest });
        return sendJson(res, 200, { ok: true, artifact_id: String(artifact.id) });
      }
      case 'ListArtifacts': {
        const nameFilter = typeof input.name_filter === 'string' ? input.name_filter : undefined;
        const idFilter = input.id_filter !== undefined ? String(input.id_filter) : undefined;
        const found = artifacts.filter(
          (a) => a.finalized && a.runBackendId === scope.runBackendId && (!nameFilter || a.name === nameFilter) && (!idFilter || String(a.id) === idFilter),
        );
        return sendJson(res, 200, { artifacts: found.map(twirpArtifact) });
      }
      case 'GetSignedArtifactURL': {
        const artifact = artifacts.find((a) => a.finalized && a.runBackendId === scope.runBackendId && a.runBackendId === runBackendId && a.name === name);
        if (!artifact) return twirpError(res, 404, 'not_found', `no artifact named ${name}`);
        return sendJson(res, 200, { signed_url: signedBlobUrl(artifact.blobPath, 'r') });
      }
      case 'DeleteArtifact': {
        const index = artifacts.findIndex((a) => a.finalized && a.runBackendId === scope.runBackendId && a.name === name);
        if (index < 0) return twirpError(res, 404, 'not_found', `no artifact named ${name}`);
        const [removed] = artifacts.splice(index, 1);
        return sendJson(res, 200, { ok: true, artifact_id: String(removed!.id) });
      }
      default:
        return twirpError(res, 404, 'bad_route', `no method ${method}`);
    }
  }

  function handleBlob(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): void {
    const blob = blobs.get(url.pathname);
    const sig = url.searchParams.get('sig');
    const permissions = url.searchParams.get('sp') ?? '';
    if (!blob || !sig || sig !== blobSig(url.pathname, permissions)) {
      return blobError(res, 403, 'AuthenticationFailed', 'Server failed to authenticate the request.');
    }
    const common = { 'x-ms-request-id': randomUUID(), 'x-ms-version': url.searchParams.get('sv') ?? '2019-12-12', date: new Date().toUTCString() };
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (!permissions.includes('r')) return blobError(res, 403, 'AuthorizationPermissionMismatch', 'This request is not authorized to perform this operation using this permission.');
      if (!blob.committed) return blobError(res, 404, 'BlobNotFound', 'The specified blob does not exist.');
      res.writeHead(200, {
        ...common,
        'content-type': blob.contentType ?? 'application/zip',
        'content-length': blob.committed.length,
        'x-ms-blob-type': 'BlockBlob',
        etag: `"0x${createHash('md5').update(blob.committed).digest('hex').slice(0, 15).toUpperCase()}"`,
      });
      res.end(req.method === 'GET' ? blob.committed : undefined);
      return;
    }
    if (req.method !== 'PUT') return blobError(res, 405, 'UnsupportedHttpVerb', `${req.method} is not supported.`);
    if (!permissions.includes('w')) return blobError(res, 403, 'AuthorizationPermissionMismatch', 'This request is not authorized to perform this operation using this permission.');
    const comp = url.searchParams.get('comp');
    const committedHeaders = () => ({
      ...common,
      etag: `"0x${randomBytes(8).toString('hex').toUpperCase()}"`,
      'last-modified': new Date().toUTCString(),
      'x-ms-request-server-encrypted': 'true',
      'content-length': '0',
    });
    if (comp === 'block') {
      const blockId = url.searchParams.get('blockid');
      if (!blockId) return blobError(res, 400, 'InvalidQueryParameterValue', 'blockid is required.');
      blob.blocks.set(blockId, body);
      res.writeHead(201, { ...common, 'x-ms-request-server-encrypted': 'true', 'content-length': '0' });
      res.end();
      return;
    }
    if (comp === 'blocklist') {
      const ids = [...body.toString('utf8').matchAll(/<(Latest|Committed|Uncommitted)>([^<]*)<\/\1>/g)].map((m) => m[2]!);
      const missing = ids.find((id) => !blob.blocks.has(id));
      if (missing !== undefined) return blobError(res, 400, 'InvalidBlockList', 'The specified block list is invalid.');
      blob.committed = Buffer.concat(ids.map((id) => blob.blocks.get(id)!));
      blob.contentType = req.headers['x-ms-blob-content-type'] as string | undefined;
      blob.blocks.clear();
      res.writeHead(201, committedHeaders());
      res.end();
      return;
    }
    if (comp === null) {
      if (req.headers['x-ms-blob-type'] !== 'BlockBlob') return blobError(res, 400, 'MissingRequiredHeader', 'x-ms-blob-type is required.');
      blob.committed = body;
      blob.contentType = (req.headers['x-ms-blob-content-type'] ?? req.headers['content-type']) as string | undefined;
      res.writeHead(201, committedHeaders());
      res.end();
      return;
    }
    return blobError(res, 400, 'InvalidQueryParameterValue', `comp=${comp} is not supported.`);
  }

  function handleRest(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): void {
    const access = restAccess(req);
    if (!access) return githubError(res, 401, 'Bad credentials', DOCS);
    const method = req.method ?? 'GET';
    let m: RegExpExecArray | null;

    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/.exec(url.pathname))) {
      const [, owner, repo, n] = m as unknown as [string, string, string, string];
      const list = issueComments(owner, repo, Number(n));
      if (method === 'GET') {
        const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 30) || 30));
        const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
        const lastPage = Math.max(1, Math.ceil(list.length / perPage));
        const link = (p: number, rel: string) => {
          const q = new URLSearchParams(url.searchParams);
          q.set('per_page', String(perPage));
          q.set('page', String(p));
          return `<${baseUrl}${url.pathname}?${q}>; rel="${rel}"`;
        };
        const links: string[] = [];
        if (page > 1) links.push(link(page - 1, 'prev'));
        if (page < lastPage) links.push(link(page + 1, 'next'), link(lastPage, 'last'));
        if (page > 1) links.push(link(1, 'first'));
        return sendJson(res, 200, list.slice((page - 1) * perPage, page * perPage), links.length ? { link: links.join(', ') } : {});
      }
      if (method === 'POST') {
        if (access !== 'write') return githubError(res, 403, 'Resource not accessible by integration', `${DOCS}/issues/comments#create-an-issue-comment`);
        const input = JSON.parse(body.toString('utf8') || '{}') as { body?: unknown };
        if (typeof input.body !== 'string') return githubError(res, 422, 'Invalid request.\n\n"body" wasn\'t supplied.', `${DOCS}/issues/comments#create-an-issue-comment`);
        if ([...input.body].length > 65_536) {
          return githubError(res, 422, 'Validation Failed', `${DOCS}/issues/comments#create-an-issue-comment`, {
            errors: [{ resource: 'IssueComment', code: 'custom', field: 'body', message: 'body is too long (maximum is 65536 characters)' }],
          });
        }
        const comment = makeComment(owner, repo, Number(n), input.body, botLogin);
        list.push(comment);
        return sendJson(res, 201, comment, { location: comment.url });
      }
    }

    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/issues\/comments\/(\d+)$/.exec(url.pathname))) {
      const [, owner, repo, id] = m as unknown as [string, string, string, string];
      const prefix = `${owner}/${repo}#`;
      const comment = [...issues].filter(([key]) => key.startsWith(prefix)).flatMap(([, list]) => list).find((c) => c.id === Number(id));
      if (!comment) return githubError(res, 404, 'Not Found', `${DOCS}/issues/comments`);
      if (method === 'GET') return sendJson(res, 200, comment);
      if (method === 'PATCH') {
        if (access !== 'write') return githubError(res, 403, 'Resource not accessible by integration', `${DOCS}/issues/comments#update-an-issue-comment`);
        const input = JSON.parse(body.toString('utf8') || '{}') as { body?: unknown };
        if (typeof input.body !== 'string') return githubError(res, 422, 'Invalid request.\n\n"body" wasn\'t supplied.', `${DOCS}/issues/comments#update-an-issue-comment`);
        if ([...input.body].length > 65_536) {
          return githubError(res, 422, 'Validation Failed', `${DOCS}/issues/comments#update-an-issue-comment`, {
            errors: [{ resource: 'IssueComment', code: 'custom', field: 'body', message: 'body is too long (maximum is 65536 characters)' }],
          });
        }
        comment.body = input.body;
        comment.updated_at = new Date().toISOString();
        return sendJson(res, 200, comment);
      }
    }

    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/runs\/(\d+)\/artifacts$/.exec(url.pathname)) && method === 'GET') {
      const [, owner, repo, runId] = m as unknown as [string, string, string, string];
      const name = url.searchParams.get('name');
      const found = artifacts.filter((a) => a.finalized && a.runId === Number(runId) && (!name || a.name === name));
      const perPage = Math.min(100, Number(url.searchParams.get('per_page') ?? 30) || 30);
      const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
      return sendJson(res, 200, {
        total_count: found.length,
        artifacts: found.slice((page - 1) * perPage, page * perPage).map((a) => restArtifact(a, owner, repo)),
      });
    }

    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/artifacts\/(\d+)(\/zip)?$/.exec(url.pathname)) && method === 'GET') {
      const [, owner, repo, id, zip] = m as unknown as [string, string, string, string, string | undefined];
      const artifact = artifacts.find((a) => a.finalized && a.id === Number(id));
      if (!artifact) return githubError(res, 404, 'Not Found', `${DOCS}/actions/artifacts`);
      if (!zip) return sendJson(res, 200, restArtifact(artifact, owner, repo));
      res.writeHead(302, { location: signedBlobUrl(artifact.blobPath, 'r'), 'content-length': '0' });
      res.end();
      return;
    }

    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/pulls\/(\d+)$/.exec(url.pathname)) && method === 'GET') {
      const [, owner, repo, n] = m as unknown as [string, string, string, string];
      const pr = pullRequests.get(issueKey(owner, repo, Number(n)));
      if (!pr) return githubError(res, 404, 'Not Found', `${DOCS}/pulls/pulls#get-a-pull-request`);
      const [headOwner] = pr.headRepo.split('/');
      return sendJson(res, 200, {
        id: 900_000 + pr.number,
        number: pr.number,
        state: pr.state ?? 'open',
        html_url: `https://github.com/${owner}/${repo}/pull/${pr.number}`,
        head: { ref: 'feature', sha: pr.headSha, repo: { full_name: pr.headRepo, fork: pr.headRepo !== `${owner}/${repo}`, owner: { login: headOwner } } },
        base: { ref: 'main', sha: pr.baseSha ?? 'b'.repeat(40), repo: { full_name: `${owner}/${repo}` } },
      });
    }

    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/check-runs$/.exec(url.pathname)) && method === 'POST') {
      const [, owner, repo] = m as unknown as [string, string, string];
      if (access !== 'write') return githubError(res, 403, 'Resource not accessible by integration', `${DOCS}/checks/runs#create-a-check-run`);
      const input = JSON.parse(body.toString('utf8') || '{}') as Partial<CheckRun>;
      if (typeof input.name !== 'string' || typeof input.head_sha !== 'string') {
        return githubError(res, 422, 'Invalid request.\n\n"name" and "head_sha" are required.', `${DOCS}/checks/runs#create-a-check-run`);
      }
      if ((input.output?.summary?.length ?? 0) > 65_535) {
        return githubError(res, 422, 'Invalid request.\n\nOnly 65535 characters are allowed; 65536 were supplied.', `${DOCS}/checks/runs#create-a-check-run`);
      }
      const run: CheckRun = {
        id: nextCheckRunId++,
        name: input.name,
        head_sha: input.head_sha,
        status: input.status ?? 'queued',
        conclusion: input.conclusion ?? null,
        ...(input.details_url ? { details_url: input.details_url } : {}),
        ...(input.output ? { output: input.output } : {}),
      };
      const list = checkRuns.get(`${owner}/${repo}`) ?? [];
      list.push(run);
      checkRuns.set(`${owner}/${repo}`, list);
      return sendJson(res, 201, { ...run, html_url: `https://github.com/${owner}/${repo}/runs/${run.id}` });
    }

    return githubError(res, 404, 'Not Found', DOCS);
  }

  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', baseUrl);
      requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body });
      const failure = failures.find((f) => f.remaining > 0 && (!f.method || f.method === req.method) && f.path.test(url.pathname));
      if (failure) {
        failure.remaining--;
        return sendJson(res, failure.status, failure.body);
      }
      if (url.pathname.startsWith(TWIRP_PREFIX)) return handleTwirp(req, res, url.pathname.slice(TWIRP_PREFIX.length), body);
      if (url.pathname.startsWith('/blob/')) return handleBlob(req, res, url, body);
      return handleRest(req, res, url, body);
    })().catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { message: `test server error: ${String(err)}` });
      else res.destroy();
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: baseUrl,
    requests,
    artifacts,
    comments: (owner, repo, n) => [...issueComments(owner, repo, n)],
    seedComments(owner, repo, n, bodies, login = 'octocat') {
      const list = issueComments(owner, repo, n);
      const made = bodies.map((body) => makeComment(owner, repo, n, body, login));
      list.push(...made);
      return made;
    },
    runtimeToken(runId, jobName = 'gate') {
      const runBackendId = runBackendIdOf(runId);
      const jobBackendId = createHash('sha256').update(`${runId}/${jobName}`).digest('hex').replace(/^(.{8})(.{4})(.{3})(.{3})(.{12}).*/, '$1-$2-5$3-a$4-$5');
      runsByBackendId.set(runBackendId, runId);
      const now = Math.floor(Date.now() / 1000);
      const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'HS256' }));
      const claims = base64url(
        JSON.stringify({ scp: `Actions.ExampleScope Actions.Results:${runBackendId}:${jobBackendId}`, iat: now, nbf: now, exp: now + 6 * 3600, iss: baseUrl, aud: 'vso:test' }),
      );
      return `${header}.${claims}.${sign(`${header}.${claims}`)}`;
    },
    seedArtifact(runId, name, files) {
      const zip = writeZip(files);
      const runBackendId = runBackendIdOf(runId);
      runsByBackendId.set(runBackendId, runId);
      const blobPath = `/blob/actions-results/${runBackendId}/seeded/artifacts/${createHash('sha256').update(`${name}\n${randomUUID()}`).digest('hex')}.zip`;
      blobs.set(blobPath, { blocks: new Map(), committed: zip, contentType: 'application/zip' });
      const artifact: StoredArtifact = {
        id: nextArtifactId++,
        name,
        runId,
        runBackendId,
        jobBackendId: 'seeded',
        blobPath,
        mimeType: 'application/zip',
        finalized: true,
        zip,
        size: zip.length,
        digest: `sha256:${createHash('sha256').update(zip).digest('hex')}`,
        createdAt: new Date(),
      };
      artifacts.push(artifact);
      return artifact;
    },
    seedPullRequest(owner, repo, pr) {
      pullRequests.set(issueKey(owner, repo, pr.number), pr);
    },
    checkRuns: (owner, repo) => [...(checkRuns.get(`${owner}/${repo}`) ?? [])],
    failWith(match, status, body, times = Number.POSITIVE_INFINITY) {
      failures.push({ method: match.method, path: match.path, status, body, remaining: times });
    },
    close() {
      return new Promise((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      });
    },
  };
}
