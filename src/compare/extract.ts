/**
 * The base side on disk: the config at the base commit, then exactly the files it references (model,
 * the model's external-data files, dataset files), written under one folder inside the compare's
 * out dir. Nothing in the working tree is touched. A base without config or model is a normal
 * outcome (the PR adds the model), reported in `missing`.
 */
import { execFile } from 'node:child_process';
import { readFileSync, realpathSync, rmSync } from 'node:fs';
import path from 'node:path';
import { extractRevision, type ExtractedFile } from '../git/base.js';
import { loadConfig } from '../config/load.js';
import { loadModel, onnx } from '../model/onnx.js';
import { ModelGateError, errorMessage } from '../errors.js';

export interface BaseCheckout {
  sha: string;
  /** The base's config, extracted; null when there is none to run. */
  configPath: string | null;
  /** The base's model file, extracted; null when missing. */
  modelPath: string | null;
  /** Why there is nothing to compare against. */
  missing?: string;
  files: ExtractedFile[];
}

/** The top folder of the git work tree that holds `dir`. */
export function gitToplevel(dir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', ['-C', dir, 'rev-parse', '--show-toplevel'], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
      if (err) reject(new ModelGateError(`${dir} is not inside a git work tree (${(stderr || err.message).trim()}); modelgate compare needs a git checkout`));
      else resolve(stdout.trim());
    });
  });
}

function realpath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

/** `file` relative to the repository root, posix style; refuses files outside the repository. */
function repoPath(repoDir: string, file: string, what: string): string {
  const rel = path.relative(realpath(repoDir), realpath(file));
  if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) throw new ModelGateError(`${what} ${file} is outside the git repository at ${repoDir}`);
  return rel.split(path.sep).join('/');
}

/**
 * The files a model file reads beside itself, relative to its folder: an ONNX model's external data, a
 * TF.js model.json's weight shards. The importers check each path again when they read it.
 */
function companionFiles(modelFile: string): string[] {
  if (modelFile.toLowerCase().endsWith('.json')) {
    const manifest = JSON.parse(readFileSync(modelFile, 'utf8')) as { weightsManifest?: Array<{ paths?: unknown }> };
    return (manifest.weightsManifest ?? []).flatMap((g) => (Array.isArray(g.paths) ? g.paths.filter((p): p is string => typeof p === 'string' && !path.isAbsolute(p)) : []));
  }
  return externalDataFiles(modelFile);
}

/** External-data locations of an ONNX model, relative to its folder (loadModel checks them again when it reads them). */
function externalDataFiles(modelFile: string): string[] {
  const model = loadModel(modelFile, { inlineExternalData: false });
  const out = new Set<string>();
  const visit = (g: onnx.IGraphProto | null | undefined): void => {
    if (!g) return;
    const tensors = [...(g.initializer ?? []), ...(g.node ?? []).flatMap((n) => (n.attribute ?? []).flatMap((a) => [...(a.t ? [a.t] : []), ...(a.tensors ?? [])]))];
    for (const t of tensors) {
      if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
      const location = (t.externalData ?? []).find((e) => e.key === 'location')?.value;
      if (location && !path.isAbsolute(location)) out.add(location);
    }
    for (const n of g.node ?? []) for (const a of n.attribute ?? []) {
      visit(a.g);
      for (const sub of a.graphs ?? []) visit(sub);
    }
  };
  visit(model.graph);
  return [...out];
}

/**
 * Writes the base revision's config and what it references under `destDir`, mirroring the
 * repository layout, so the config's relative paths resolve as they did in that commit.
 */
export async function extractBase(repoDir: string, sha: string, headConfigPath: string, destDir: string): Promise<BaseCheckout> {
  rmSync(destDir, { recursive: true, force: true });
  const configRel = repoPath(repoDir, headConfigPath, 'the config');
  const files: ExtractedFile[] = [];
  const short = sha.slice(0, 8);

  const cfg = await extractRevision(repoDir, sha, [configRel], destDir);
  files.push(...cfg.files);
  if (!cfg.complete) return { sha, configPath: null, modelPath: null, missing: `no config at base ${short}: ${configRel} does not exist there`, files };
  const configPath = cfg.files[0]!.dest;

  let loaded;
  try {
    loaded = loadConfig(configPath);
  } catch (err) {
    return { sha, configPath: null, modelPath: null, missing: `the config at base ${short} cannot be used: ${errorMessage(err)}`, files };
  }
  const { config } = loaded;
  const root = path.resolve(destDir);
  /** A config path as a repo-relative path at base; absolute paths point outside the repo and are read from disk as they are. */
  const inRepo = (p: string, key: string): string | null => {
    if (path.isAbsolute(p)) return null;
    const rel = path.relative(root, loaded.resolve(p));
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw new ModelGateError(`${key} '${p}' in the config at base ${short} points outside the repository`);
    return rel.split(path.sep).join('/');
  };

  const modelRel = inRepo(config.model, 'model');
  const modelPath = loaded.resolve(config.model);
  if (modelRel !== null) {
    const m = await extractRevision(repoDir, sha, [modelRel], destDir);
    files.push(...m.files);
    if (!m.complete) return { sha, configPath: null, modelPath: null, missing: m.message ?? `no model at base ${short}`, files };
    try {
      const extra = companionFiles(modelPath).map((loc) => inRepo(path.join(path.dirname(config.model), loc), 'a file the model reads'));
      const wanted = extra.filter((p): p is string => p !== null);
      if (wanted.length > 0) files.push(...(await extractRevision(repoDir, sha, wanted, destDir)).files);
    } catch {
      // An unreadable base model is the base pipeline's error to report, with its own message.
    }
  }
  // Dataset files missing at base make the base pipeline fail with a clear message; the pair is still compared on the head's data.
  const data = [config.dataset?.inputs, config.dataset?.labels].flatMap((p, i) => (p ? [inRepo(p, i === 0 ? 'dataset.inputs' : 'dataset.labels')] : []));
  const wanted = data.filter((p): p is string => p !== null);
  if (wanted.length > 0) files.push(...(await extractRevision(repoDir, sha, wanted, destDir)).files);
  return { sha, configPath, modelPath, files };
}
