/**
 * What the latency numbers were measured on. Two reports are only comparable when sameHardware
 * says so; the ISA flags explain why an int8 model is fast on one runner (VNNI, AMX, dotprod) and
 * slow on another.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { ORT_VERSION } from '../runtime/ort.js';

export const ISA_FEATURES = [
  // x86
  'avx', 'avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512vl', 'avx512_vnni', 'avx512_bf16', 'avx512_fp16', 'avx_vnni',
  'amx_tile', 'amx_int8', 'amx_bf16',
  // Arm
  'neon', 'dotprod', 'i8mm', 'bf16', 'fp16', 'sve', 'sve2',
] as const;
export type IsaFeature = (typeof ISA_FEATURES)[number];
/** true/false when the OS told us, null when it could not be read cheaply. */
export type IsaFlags = Record<IsaFeature, boolean | null>;

const X86: readonly IsaFeature[] = ISA_FEATURES.slice(0, ISA_FEATURES.indexOf('neon'));
const ARM: readonly IsaFeature[] = ISA_FEATURES.slice(ISA_FEATURES.indexOf('neon'));

export interface HardwareFingerprint {
  /** CPU model name, e.g. 'AMD EPYC 7763 64-Core Processor'. */
  cpu: string;
  /** Logical CPUs. */
  cores: number;
  arch: string;
  /** Platform and kernel release, e.g. 'linux 6.8.0-1017-azure'. */
  os: string;
  memory_bytes: number;
  isa: IsaFlags;
  /** Where the ISA flags came from. */
  isa_source: 'cpuinfo' | 'sysctl' | 'arch' | 'none';
  node: string;
  onnxruntime: string;
}

function unknownIsa(): IsaFlags {
  return Object.fromEntries(ISA_FEATURES.map((f) => [f, null])) as IsaFlags;
}

/** Features of the other architecture family are known to be absent. */
function familyDefaults(arch: string): IsaFlags {
  const isa = unknownIsa();
  const x86 = arch === 'x64' || arch === 'ia32';
  const arm = arch === 'arm64' || arch === 'arm';
  for (const f of X86) if (arm) isa[f] = false;
  for (const f of ARM) if (x86) isa[f] = false;
  if (arch === 'arm64') isa.neon = true; // Advanced SIMD is mandatory in AArch64
  return isa;
}

// Linux /proc/cpuinfo names: x86 'flags', Arm 'Features'.
const CPUINFO_NAMES: Partial<Record<IsaFeature, string[]>> = {
  avx: ['avx'], avx2: ['avx2'], fma: ['fma'], f16c: ['f16c'], avx512f: ['avx512f'], avx512bw: ['avx512bw'], avx512vl: ['avx512vl'],
  avx512_vnni: ['avx512_vnni'], avx512_bf16: ['avx512_bf16'], avx512_fp16: ['avx512_fp16'], avx_vnni: ['avx_vnni'],
  amx_tile: ['amx_tile'], amx_int8: ['amx_int8'], amx_bf16: ['amx_bf16'],
  neon: ['asimd', 'neon'], dotprod: ['asimddp'], i8mm: ['i8mm'], bf16: ['bf16'], fp16: ['asimdhp'], sve: ['sve'], sve2: ['sve2'],
};

/** ISA flags from the text of /proc/cpuinfo (first CPU's flags/Features line). */
export function isaFromCpuinfo(cpuinfo: string, arch: string): IsaFlags {
  const isa = familyDefaults(arch);
  const line = cpuinfo.split('\n').find((l) => /^(flags|Features)\s*:/.test(l));
  if (!line) return isa;
  const have = new Set(line.slice(line.indexOf(':') + 1).trim().split(/\s+/));
  const family = arch === 'x64' || arch === 'ia32' ? X86 : ARM;
  for (const f of family) isa[f] = (CPUINFO_NAMES[f] ?? []).some((n) => have.has(n));
  return isa;
}

// macOS `sysctl hw.optional` keys.
const SYSCTL_NAMES: Partial<Record<IsaFeature, string[]>> = {
  avx: ['hw.optional.avx1_0'], avx2: ['hw.optional.avx2_0'], fma: ['hw.optional.fma'], f16c: ['hw.optional.f16c'],
  avx512f: ['hw.optional.avx512f'], avx512bw: ['hw.optional.avx512bw'], avx512vl: ['hw.optional.avx512vl'],
  neon: ['hw.optional.AdvSIMD', 'hw.optional.neon'], dotprod: ['hw.optional.arm.FEAT_DotProd'], i8mm: ['hw.optional.arm.FEAT_I8MM'],
  bf16: ['hw.optional.arm.FEAT_BF16'], fp16: ['hw.optional.arm.FEAT_FP16', 'hw.optional.neon_fp16'],
};

/** ISA flags from `sysctl hw.optional` output; a key the OS does not list stays unknown. */
export function isaFromSysctl(text: string, arch: string): IsaFlags {
  const isa = familyDefaults(arch);
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([\w.]+):\s*(\S+)/.exec(line.trim());
    if (m) values.set(m[1]!, m[2]!);
  }
  for (const [f, keys] of Object.entries(SYSCTL_NAMES) as Array<[IsaFeature, string[]]>) {
    const found = keys.map((k) => values.get(k)).filter((v) => v !== undefined);
    if (found.length > 0) isa[f] = found.some((v) => v === '1');
  }
  // Keys absent on a machine that answered mean the feature is absent too, for the family we know well.
  const family = arch === 'x64' ? X86 : arch === 'arm64' ? ARM : [];
  if (values.size > 0) for (const f of family) if (isa[f] === null && SYSCTL_NAMES[f]) isa[f] = false;
  return isa;
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function cpuModel(cpuinfo: string | undefined): string {
  const model = os.cpus()[0]?.model?.trim();
  if (model && model !== 'unknown') return model;
  // Arm Linux often has no model name: identify the core by implementer and part number.
  if (cpuinfo) {
    const field = (k: string) => new RegExp(`^${k}\\s*:\\s*(.+)$`, 'm').exec(cpuinfo)?.[1]?.trim();
    const impl = field('CPU implementer');
    const part = field('CPU part');
    if (impl && part) return `Arm implementer ${impl} part ${part}`;
  }
  return 'unknown';
}

export function hardwareFingerprint(): HardwareFingerprint {
  const arch = process.arch;
  let isa: IsaFlags = familyDefaults(arch);
  let isaSource: HardwareFingerprint['isa_source'] = arch === 'arm64' ? 'arch' : 'none';
  let cpuinfo: string | undefined;
  if (process.platform === 'linux') {
    cpuinfo = read('/proc/cpuinfo');
    if (cpuinfo) {
      isa = isaFromCpuinfo(cpuinfo, arch);
      isaSource = 'cpuinfo';
    }
  } else if (process.platform === 'darwin') {
    try {
      isa = isaFromSysctl(execFileSync('sysctl', ['hw.optional'], { encoding: 'utf8', timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'] }), arch);
      isaSource = 'sysctl';
    } catch {
      // keep the architecture defaults
    }
  }
  return {
    cpu: cpuModel(cpuinfo),
    cores: os.cpus().length || os.availableParallelism(),
    arch,
    os: `${process.platform} ${os.release()}`,
    memory_bytes: os.totalmem(),
    isa,
    isa_source: isaSource,
    node: process.version,
    onnxruntime: ORT_VERSION,
  };
}

/** Same CPU model, logical core count and architecture: latency numbers can be compared. */
export function sameHardware(a: Pick<HardwareFingerprint, 'cpu' | 'cores' | 'arch'>, b: Pick<HardwareFingerprint, 'cpu' | 'cores' | 'arch'>): boolean {
  return a.cpu === b.cpu && a.cores === b.cores && a.arch === b.arch;
}
