/**
 * XNNPACK for the TFLite runtime, through the one delegate hook tfjs-tflite-node has.
 *
 * The shipped libtensorflowlite_c exports TfLiteXNNPackDelegateCreate but does not apply it by default, and
 * the addon cannot call it; it can only load an "external delegate": a shared library that exports
 * tflite_plugin_create_delegate / tflite_plugin_destroy_delegate (TFLite's external delegate plugin ABI).
 * So ModelGate compiles a 30-line plugin that forwards to TfLiteXNNPackDelegateCreate, once per machine, with
 * the C compiler that built the addon, into a cache folder. The options struct is passed zero-filled (every
 * option off, which is each field's safe value) with num_threads and flags set; flags = QS8 | QU8 (1 | 2)
 * lets XNNPACK run int8 and uint8 operators too. Where no compiler is found the runtime reports XNNPACK as
 * unavailable and runs TFLite's builtin kernels.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { errorMessage } from '../errors.js';

export const XNNPACK_FLAGS_QS8_QU8 = 3;

const PLUGIN_SOURCE = `#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
typedef struct TfLiteDelegate TfLiteDelegate;
extern TfLiteDelegate* TfLiteXNNPackDelegateCreate(const void* options);
extern void TfLiteXNNPackDelegateDelete(TfLiteDelegate* delegate);
/* TfLiteXNNPackDelegateOptions starts with int32 num_threads, uint32 flags; the rest is left zero. */
TfLiteDelegate* tflite_plugin_create_delegate(char** keys, char** values, size_t n, void (*report_error)(const char*)) {
  uint64_t options[64];
  int32_t threads = 1;
  uint32_t flags = 0;
  size_t i;
  memset(options, 0, sizeof options);
  for (i = 0; i < n; i++) {
    if (strcmp(keys[i], "num_threads") == 0) threads = atoi(values[i]);
    if (strcmp(keys[i], "flags") == 0) flags = (uint32_t)strtoul(values[i], NULL, 10);
  }
  ((int32_t*)options)[0] = threads;
  ((uint32_t*)options)[1] = flags;
  TfLiteDelegate* d = TfLiteXNNPackDelegateCreate(options);
  if (!d && report_error) report_error("TfLiteXNNPackDelegateCreate failed");
  return d;
}
void tflite_plugin_destroy_delegate(TfLiteDelegate* d) { TfLiteXNNPackDelegateDelete(d); }
`;

export type XnnpackPlugin = { path: string } | { unavailable: string };

const cache = new Map<string, XnnpackPlugin>();

function cacheDir(): string {
  const base = process.env.MODELGATE_CACHE || process.env.RUNNER_TOOL_CACHE || path.join(os.homedir(), '.cache');
  return path.join(base, 'modelgate');
}

/** The cc_deps folder of tfjs-tflite-node that holds libtensorflowlite_c for this platform. */
function libraryDir(packageDir: string): { dir: string; lib: string } | undefined {
  if (process.platform === 'linux' && process.arch === 'x64') return { dir: path.join(packageDir, 'cc_deps', 'linux_amd64'), lib: 'libtensorflowlite_c.so' };
  if (process.platform === 'linux' && process.arch === 'arm64') return { dir: path.join(packageDir, 'cc_deps', 'linux_arm64'), lib: 'libtensorflowlite_c.so' };
  if (process.platform === 'darwin' && process.arch === 'arm64') return { dir: path.join(packageDir, 'cc_deps', 'darwin_arm64'), lib: 'libtensorflowlite_c.dylib' };
  return undefined;
}

/**
 * The plugin's path, compiling it on first use (cached by source and library path), or why it cannot be had.
 * Never throws: XNNPACK is an accelerator, and its absence is reported, not fatal.
 */
export function xnnpackPlugin(packageDir: string): XnnpackPlugin {
  const known = cache.get(packageDir);
  if (known) return known;
  const result = build(packageDir);
  cache.set(packageDir, result);
  return result;
}

function build(packageDir: string): XnnpackPlugin {
  const lib = libraryDir(packageDir);
  if (!lib) return { unavailable: `no XNNPACK plugin build for ${process.platform}-${process.arch}` };
  if (!existsSync(path.join(lib.dir, lib.lib))) return { unavailable: `${lib.lib} not found in ${lib.dir}` };
  const ext = process.platform === 'darwin' ? 'dylib' : 'so';
  const hash = createHash('sha256').update(PLUGIN_SOURCE).update(path.resolve(lib.dir)).digest('hex').slice(0, 16);
  const dir = cacheDir();
  const out = path.join(dir, `tflite-xnnpack-plugin-${hash}.${ext}`);
  if (existsSync(out)) return { path: out };
  const compilers = [process.env.CC, 'cc', 'gcc', 'clang'].filter((c): c is string => !!c);
  const errors: string[] = [];
  try {
    mkdirSync(dir, { recursive: true });
    const src = path.join(dir, `tflite-xnnpack-plugin-${hash}.${process.pid}.c`); // per process: test workers may build at once
    writeFileSync(src, PLUGIN_SOURCE);
    const tmp = `${out}.${process.pid}.tmp`;
    const linkLib = process.platform === 'darwin' ? [path.join(lib.dir, lib.lib)] : [`-L${lib.dir}`, `-l:${lib.lib}`];
    const flags = process.platform === 'darwin' ? ['-dynamiclib', `-Wl,-rpath,${lib.dir}`] : ['-shared', '-fPIC', `-Wl,-rpath,${lib.dir}`];
    for (const cc of compilers) {
      try {
        execFileSync(cc, ['-O2', ...flags, '-o', tmp, src, ...linkLib], { stdio: ['ignore', 'ignore', 'pipe'] });
        renameSync(tmp, out); // atomic: parallel workers never load a half-written file
        rmSync(src, { force: true });
        return { path: out };
      } catch (err) {
        errors.push(`${cc}: ${errorMessage(err).split('\n')[0]}`);
      }
    }
  } catch (err) {
    errors.push(errorMessage(err));
  }
  return { unavailable: `no C compiler could build the XNNPACK delegate plugin (${errors.join('; ')})` };
}
