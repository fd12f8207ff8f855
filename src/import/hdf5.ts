/**
 * Reading HDF5 (Keras .h5 and model.weights.h5) with h5wasm, the HDF5 C library compiled to
 * WebAssembly. Files are treated as hostile: a size cap, the HDF5 signature checked before the
 * library sees the file, library errors turned into one-line ModelGateErrors, and datasets read
 * only after their shape was checked against what the model expects.
 */
import { closeSync, constants, existsSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ModelGateError, errorMessage } from '../errors.js';
import { halfToFloat } from '../model/tensor.js';
import { checkReadableFile } from '../io/files.js';

type H5Module = typeof import('h5wasm/node');
type H5Group = import('h5wasm/node').Group;
type H5Dataset = import('h5wasm/node').Dataset;
type H5Entity = import('h5wasm/node').Entity;

/** Keras models beyond this belong in a format with external weights; also bounds wasm memory. */
export const MAX_HDF5_BYTES = 2 ** 31 - 1;
const SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

let h5: Promise<H5Module> | undefined;

// webpack (ncc) rewrites `createRequire`, also inside h5wasm's Emscripten loader, which then cannot start.
// So h5wasm is never bundled: it loads from node_modules (found as Node would, walking up from here), or
// from dist/h5wasm/, which scripts/build.mjs copies beside the bundles (the action has no node_modules).
// (h5wasm's exports map has only an `import` condition, so require.resolve cannot find it.)
const H5WASM_FILE = 'hdf5_hl.js';

function h5wasmEntry(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    for (const file of [path.join(dir, 'node_modules', 'h5wasm', 'dist', 'node', H5WASM_FILE), path.join(dir, 'h5wasm', H5WASM_FILE)]) {
      if (existsSync(file)) return pathToFileURL(file).href;
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new ModelGateError('the HDF5 reader (h5wasm) is not installed beside modelgate: reinstall it, or run from a checkout that ran npm ci');
}

async function loadH5wasm(): Promise<H5Module> {
  h5 ??= (async () => {
    const mod = (await import(/* webpackIgnore: true */ h5wasmEntry())) as H5Module;
    const Module = (await mod.ready) as unknown as { activate_throwing_error_handler(): number };
    // Without this, HDF5 prints its error stack to stderr and returns negative ids; with it, calls throw.
    Module.activate_throwing_error_handler();
    return mod;
  })();
  return h5;
}

/** HDF5's multi-line error stack → its most specific line ("truncated file: eof = …"). */
function hdf5Reason(err: unknown): string {
  const text = errorMessage(err);
  const minors = [...text.matchAll(/minor: (.*)/g)].map((m) => m[1]!.trim());
  const details = [...text.matchAll(/#\d+: .*? in (\w+\(\)): (.*)/g)].map((m) => m[2]!.trim());
  const detail = details.at(-1);
  return detail ?? minors.at(-1) ?? text.split('\n')[0]!.slice(0, 200);
}

export class Hdf5File {
  private constructor(
    private readonly mod: H5Module,
    private readonly file: import('h5wasm/node').File,
    /** How messages name the file: the user's path, or 'model.keras!model.weights.h5'. */
    readonly label: string,
  ) {}

  /** Opens an HDF5 file read-only after the size and signature checks. */
  static async open(path: string, label = path): Promise<Hdf5File> {
    // h5wasm opens the file by name itself: the checks run here, and it gets the resolved real path.
    const { realPath, size } = checkReadableFile(path, { maxBytes: MAX_HDF5_BYTES, label, what: 'HDF5 file' });
    const head = Buffer.alloc(8);
    const fd = openSync(realPath, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    try {
      readSync(fd, head, 0, 8, 0);
    } finally {
      closeSync(fd);
    }
    if (!head.equals(SIGNATURE)) {
      throw new ModelGateError(`${label}: not an HDF5 file (${size === 0 ? 'empty' : 'no HDF5 signature'}); expected a Keras model saved with model.save()`);
    }
    const mod = await loadH5wasm();
    try {
      return new Hdf5File(mod, new mod.File(realPath, 'r'), label);
    } catch (err) {
      throw new ModelGateError(`${label}: corrupt or truncated HDF5 file (${hdf5Reason(err)})`, { cause: err });
    }
  }

  close(): void {
    try {
      this.file.close();
    } catch {
      // Closing a file whose open half-failed can throw again; nothing is left to release.
    }
  }

  /** The library call, with HDF5 errors reported as a corrupt file. */
  private guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ModelGateError) throw err;
      throw new ModelGateError(`${this.label}: corrupt HDF5 file while reading ${what} (${hdf5Reason(err)})`, { cause: err });
    }
  }

  get(path: string): H5Entity | null {
    return this.guard(`'${path}'`, () => this.file.get(path));
  }

  group(path: string): H5Group | null {
    const e = this.get(path);
    return e instanceof this.mod.Group ? e : null;
  }

  dataset(path: string): H5Dataset | null {
    const e = this.get(path);
    return e instanceof this.mod.Dataset ? e : null;
  }

  keys(path: string): string[] {
    const g = path === '' || path === '/' ? this.file : this.group(path);
    return g ? this.guard(`the members of '${path}'`, () => g.keys()) : [];
  }

  private attrOwner(path: string): H5Group | H5Dataset | null {
    if (path === '' || path === '/') return this.file;
    return this.group(path) ?? this.dataset(path);
  }

  /** An attribute as a string (bytes or str in h5py terms), or undefined. */
  stringAttr(path: string, name: string): string | undefined {
    const owner = this.attrOwner(path);
    if (!owner) return undefined;
    return this.guard(`attribute '${name}' of '${path || '/'}'`, () => {
      const attrs = owner.attrs;
      if (!(name in attrs)) return undefined;
      const v = attrs[name]!.value;
      if (typeof v === 'string') return v;
      if (v instanceof Uint8Array) return new TextDecoder().decode(v);
      if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'string') return v[0];
      throw new ModelGateError(`${this.label}: attribute '${name}' of '${path || '/'}' is not a string`);
    });
  }

  /**
   * A list-of-strings attribute. h5py-era Keras splits lists too large for one HDF5 attribute
   * (64 KiB) into name0, name1, ...; those chunks are joined here.
   */
  stringListAttr(path: string, name: string): string[] | undefined {
    const owner = this.attrOwner(path);
    if (!owner) return undefined;
    return this.guard(`attribute '${name}' of '${path || '/'}'`, () => {
      const attrs = owner.attrs;
      const toList = (v: unknown): string[] => {
        const items = Array.isArray(v) ? v : [v];
        return items.map((s) => (typeof s === 'string' ? s : s instanceof Uint8Array ? new TextDecoder().decode(s) : String(s)));
      };
      if (name in attrs) return toList(attrs[name]!.value);
      if (!(`${name}0` in attrs)) return undefined;
      const out: string[] = [];
      for (let k = 0; `${name}${k}` in attrs; k++) out.push(...toList(attrs[`${name}${k}`]!.value));
      return out;
    });
  }

  /**
   * A float dataset as float32, after checking its shape against `expected` so that a hostile
   * header cannot make us allocate more than the model asks for.
   */
  floats(path: string, expected: readonly number[], what: string): Float32Array {
    const ds = this.dataset(path);
    if (!ds) throw new ModelGateError(`${this.label}: ${what}: dataset '${path}' is missing`);
    const shape = this.guard(`the shape of '${path}'`, () => ds.shape ?? []);
    if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
      throw new ModelGateError(`${this.label}: ${what}: '${path}' has shape [${shape.join(', ')}], the model expects [${expected.join(', ')}]`);
    }
    const meta = this.guard(`the type of '${path}'`, () => ds.metadata);
    const value = this.guard(`'${path}'`, () => ds.value);
    const n = expected.reduce((a, b) => a * b, 1);
    let out: Float32Array;
    if (value instanceof Float32Array) out = value;
    else if (value instanceof Float64Array) out = Float32Array.from(value);
    else if (value instanceof Uint16Array && this.stringAttr(path, 'dtype') === 'bfloat16') {
      // Keras 3 stores bfloat16 variables as uint16 bits with a dtype attribute.
      out = new Float32Array(new Uint32Array(Array.from(value, (b) => b << 16)).buffer);
    } else if (value instanceof Uint16Array && meta.type === 1 && meta.size === 2) {
      out = Float32Array.from(value, halfToFloat);
    } else {
      throw new ModelGateError(`${this.label}: ${what}: '${path}' holds ${value?.constructor?.name ?? typeof value}, not float weights`);
    }
    if (out.length !== n) throw new ModelGateError(`${this.label}: ${what}: '${path}' holds ${out.length} values for shape [${expected.join(', ')}]`);
    return out;
  }

  /** Dataset shape without reading the data. */
  shape(path: string): number[] | undefined {
    const ds = this.dataset(path);
    return ds ? this.guard(`the shape of '${path}'`, () => ds.shape ?? []) : undefined;
  }
}
