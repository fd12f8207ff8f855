import { describe, expect, it } from 'vitest';
import { hardwareFingerprint, isaFromCpuinfo, isaFromSysctl, sameHardware, ISA_FEATURES } from '../../src/benchmark/hardware.js';

describe('hardwareFingerprint', () => {
  it('describes this machine', () => {
    const hw = hardwareFingerprint();
    expect(hw.cpu.length).toBeGreaterThan(0);
    expect(hw.cores).toBeGreaterThan(0);
    expect(hw.arch).toBe(process.arch);
    expect(hw.os.startsWith(process.platform)).toBe(true);
    expect(hw.memory_bytes).toBeGreaterThan(0);
    expect(hw.node).toBe(process.version);
    expect(hw.onnxruntime).toMatch(/^\d+\.\d+\.\d+$/);
    expect(Object.keys(hw.isa).sort()).toEqual([...ISA_FEATURES].sort());
    if (process.platform === 'linux' && process.arch === 'x64') {
      expect(hw.isa_source).toBe('cpuinfo');
      expect(hw.isa.avx).not.toBeNull();
      expect(hw.isa.neon).toBe(false);
    }
    expect(sameHardware(hw, hardwareFingerprint())).toBe(true);
  });
});

describe('isaFromCpuinfo', () => {
  it('reads x86 flags', () => {
    const isa = isaFromCpuinfo('processor\t: 0\nmodel name\t: X\nflags\t\t: fpu sse avx avx2 fma avx512f avx512_vnni amx_tile amx_int8\n', 'x64');
    expect(isa).toMatchObject({ avx2: true, fma: true, avx512f: true, avx512_vnni: true, avx_vnni: false, amx_int8: true, amx_bf16: false, neon: false, sve: false });
  });

  it('reads Arm features', () => {
    const isa = isaFromCpuinfo('processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimdhp asimddp sve i8mm\nCPU part\t: 0xd40\n', 'arm64');
    expect(isa).toMatchObject({ neon: true, dotprod: true, fp16: true, sve: true, sve2: false, i8mm: true, bf16: false, avx2: false });
  });

  it('leaves a family unknown without a flags line', () => {
    const isa = isaFromCpuinfo('processor: 0\n', 'x64');
    expect(isa.avx2).toBeNull();
    expect(isa.neon).toBe(false);
  });
});

describe('isaFromSysctl', () => {
  it('reads Apple silicon keys', () => {
    const isa = isaFromSysctl('hw.optional.AdvSIMD: 1\nhw.optional.arm.FEAT_DotProd: 1\nhw.optional.arm.FEAT_I8MM: 0\nhw.optional.arm.FEAT_FP16: 1\n', 'arm64');
    expect(isa).toMatchObject({ neon: true, dotprod: true, i8mm: false, fp16: true, bf16: false, avx2: false });
    expect(isa.sve).toBeNull();
  });
});

describe('sameHardware', () => {
  it('compares cpu model, cores and arch only', () => {
    const a = { cpu: 'AMD EPYC 7763', cores: 4, arch: 'x64', os: 'linux 6.5' };
    const newerKernel = { ...a, os: 'linux 6.8' };
    expect(sameHardware(a, newerKernel)).toBe(true);
    expect(sameHardware(a, { ...a, cores: 2 })).toBe(false);
    expect(sameHardware(a, { ...a, cpu: 'Intel Xeon Platinum 8370C' })).toBe(false);
    expect(sameHardware(a, { ...a, arch: 'arm64' })).toBe(false);
  });
});
