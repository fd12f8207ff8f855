import { describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../src/data/npy.js';
import type { HostDType } from '../../src/model/host-tensor.js';
import type { TypedArray } from '../../src/model/tensor.js';
import { ModelGateError } from '../../src/errors.js';

// Written by numpy 2.4 (np.save, or numpy.lib.format.write_array with an explicit version).
const NUMPY = {
  // np.array([[1.5, -2], [3, 4.25], [0, -0.0]], dtype='<f4')
  f4v1: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAMA/AAAAwAAAQEAAAIhAAAAAAAAAAIA=',
  // np.array([1, -2, 2**40], dtype='<i8'), version (2, 0)
  i8v2: 'k05VTVBZAgB0AAAAeydkZXNjcic6ICc8aTgnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMywpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAAAAAAAAP7/////////AAAAAAABAAA=',
  // np.arange(6, dtype='u1').reshape(2, 3), version (3, 0)
  u1v3: 'k05VTVBZAwB0AAAAeydkZXNjcic6ICd8dTEnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAQIDBAU=',
  // np.array([1, 0.5, -2, 65504], dtype='<f2')
  f2: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGYyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDQsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAPAA4AMD/ew==',
  // np.array([True, False, True])
  b1: 'k05VTVBZAQB2AHsnZGVzY3InOiAnfGIxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAE=',
  // np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3))
  fortran: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAABAQAAAgD8AAIBAAAAAQAAAoEA=',
  // np.arange(3, dtype='>f4')
  bigEndian: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPmY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAP4AAAEAAAAA=',
  // np.array(7, dtype='<i4')
  scalar: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoHAAAA',
  // np.zeros((0, 3), dtype='<f8')
  empty: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDAsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo=',
};
const bytesOf = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));

/** A .npy file with the given header dict text and data bytes, version 1.0. */
function handMade(dict: string, dataBytes: number, version = 1): Uint8Array {
  const header = new TextEncoder().encode(dict + '\n');
  const prefix = version === 1 ? 10 : 12;
  const out = new Uint8Array(prefix + header.length + dataBytes);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(header, prefix);
  return out;
}

function readError(bytes: Uint8Array): ModelGateError {
  try {
    readNpy(bytes, 'data/x.npy');
  } catch (err) {
    expect(err).toBeInstanceOf(ModelGateError);
    expect((err as Error).message).toContain('data/x.npy');
    return err as ModelGateError;
  }
  throw new Error('readNpy accepted a malformed file');
}

describe('readNpy on files written by numpy', () => {
  it('reads float32 (v1.0), int64 (v2.0), uint8 (v3.0)', () => {
    const f4 = readNpy(bytesOf(NUMPY.f4v1), 'f4.npy');
    expect(f4).toMatchObject({ dtype: 'float32', shape: [3, 2] });
    expect(Array.from(f4.data as Float32Array)).toEqual([1.5, -2, 3, 4.25, 0, -0]);
    expect(Object.is((f4.data as Float32Array)[5], -0)).toBe(true);

    const i8 = readNpy(bytesOf(NUMPY.i8v2), 'i8.npy');
    expect(i8.dtype).toBe('int64');
    expect(Array.from(i8.data as BigInt64Array)).toEqual([1n, -2n, 2n ** 40n]);

    const u1 = readNpy(bytesOf(NUMPY.u1v3), 'u1.npy');
    expect(u1).toMatchObject({ dtype: 'uint8', shape: [2, 3] });
    expect(Array.from(u1.data as Uint8Array)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('keeps float16 as half bits, bool as bytes, 0-d and empty arrays', () => {
    const f2 = readNpy(bytesOf(NUMPY.f2), 'f2.npy');
    expect(f2.dtype).toBe('float16');
    expect(f2.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(f2.data as Uint16Array)).toEqual([0x3c00, 0x3800, 0xc000, 0x7bff]);

    const b1 = readNpy(bytesOf(NUMPY.b1), 'b1.npy');
    expect(b1).toMatchObject({ dtype: 'bool', shape: [3] });
    expect(Array.from(b1.data as Uint8Array)).toEqual([1, 0, 1]);

    const scalar = readNpy(bytesOf(NUMPY.scalar), 's.npy');
    expect(scalar).toMatchObject({ dtype: 'int32', shape: [] });
    expect(Array.from(scalar.data as Int32Array)).toEqual([7]);

    const empty = readNpy(bytesOf(NUMPY.empty), 'e.npy');
    expect(empty).toMatchObject({ dtype: 'float64', shape: [0, 3] });
    expect(empty.data.length).toBe(0);
  });

  it('writes the same bytes as np.save', () => {
    for (const key of ['f4v1', 'f2', 'b1', 'scalar', 'empty'] as const) {
      const { dtype, shape, data } = readNpy(bytesOf(NUMPY[key]), key);
      expect(Buffer.from(writeNpy(dtype, shape, data)).toString('base64'), key).toBe(NUMPY[key]);
    }
  });

  it('reads from an unaligned view into a larger buffer', () => {
    const file = bytesOf(NUMPY.f4v1);
    const big = new Uint8Array(file.length + 3);
    big.set(file, 3);
    const a = readNpy(big.subarray(3), 'view.npy');
    expect(Array.from(a.data as Float32Array)).toEqual([1.5, -2, 3, 4.25, 0, -0]);
  });
});

describe('writeNpy → readNpy round trip', () => {
  const cases: Array<[HostDType, TypedArray]> = [
    ['float32', new Float32Array([0, -1.5, 3.25e-8, Infinity, -Infinity, 1e30])],
    ['float64', new Float64Array([Math.PI, -0, 1e-300, Number.MAX_VALUE, 2, 3])],
    ['float16', new Uint16Array([0x3c00, 0x8000, 0x7c00, 0x0001, 0x7bff, 0xfc00])],
    ['uint8', new Uint8Array([0, 1, 127, 128, 254, 255])],
    ['int8', new Int8Array([-128, -1, 0, 1, 100, 127])],
    ['int16', new Int16Array([-32768, -1, 0, 1, 1000, 32767])],
    ['uint16', new Uint16Array([0, 1, 255, 256, 40000, 65535])],
    ['int32', new Int32Array([-(2 ** 31), -1, 0, 1, 123456789, 2 ** 31 - 1])],
    ['uint32', new Uint32Array([0, 1, 2 ** 16, 2 ** 31, 4e9, 2 ** 32 - 1])],
    ['int64', new BigInt64Array([-(2n ** 63n), -1n, 0n, 1n, 2n ** 53n + 1n, 2n ** 63n - 1n])],
    ['uint64', new BigUint64Array([0n, 1n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n])],
    ['bool', new Uint8Array([1, 0, 0, 1, 1, 0])],
  ];
  for (const [dtype, data] of cases) {
    it(dtype, () => {
      const bytes = writeNpy(dtype, [2, 3], data);
      expect((bytes[8]! | (bytes[9]! << 8)) + 10).toBe(bytes.length - data.byteLength);
      expect((bytes.length - data.byteLength) % 64).toBe(0);
      const back = readNpy(bytes, `${dtype}.npy`);
      expect(back.dtype).toBe(dtype);
      expect(back.shape).toEqual([2, 3]);
      expect(back.data.constructor).toBe(data.constructor);
      expect(Array.from(back.data as ArrayLike<number | bigint>)).toEqual(Array.from(data as ArrayLike<number | bigint>));
    });
  }

  it('round trips 1-d, 0-d and large shapes', () => {
    expect(readNpy(writeNpy('uint8', [5], new Uint8Array(5).fill(9)), 'a').shape).toEqual([5]);
    expect(readNpy(writeNpy('float32', [], new Float32Array([2])), 'b').shape).toEqual([]);
    const big = readNpy(writeNpy('uint8', [2000, 28, 28], new Uint8Array(2000 * 784).fill(255)), 'c');
    expect(big.shape).toEqual([2000, 28, 28]);
    expect(big.data.length).toBe(1568000);
  });

  it('refuses data that does not match the dtype or shape', () => {
    expect(() => writeNpy('float32', [2], new Float64Array(2))).toThrow(/float32 needs a Float32Array/);
    expect(() => writeNpy('uint8', [2, 2], new Uint8Array(3))).toThrow(/3 values for shape \[2, 2\]/);
  });
});

describe('readNpy on malformed files', () => {
  it('names the file and both sizes when the data is short or long', () => {
    const short = bytesOf(NUMPY.f4v1).subarray(0, 128 + 20);
    expect(readError(short).message).toMatch(/data has 20 bytes, but shape \(3, 2\) of <f4 needs 24 \(6 elements\)/);
    const long = new Uint8Array(bytesOf(NUMPY.f4v1).length + 4);
    long.set(bytesOf(NUMPY.f4v1));
    expect(readError(long).message).toMatch(/data has 28 bytes.*needs 24/);
  });

  it('rejects a missing magic, an unknown version, and a truncated header', () => {
    expect(readError(new TextEncoder().encode('PK\x03\x04 this is a zip')).message).toMatch(/magic/);
    expect(readError(new Uint8Array(4)).message).toMatch(/magic/);
    const v4 = bytesOf(NUMPY.f4v1);
    v4[6] = 4;
    expect(readError(v4).message).toMatch(/format version 4\.0/);
    const headerPastEnd = bytesOf(NUMPY.f4v1).subarray(0, 60);
    expect(readError(headerPastEnd).message).toMatch(/header length 118 runs past the end of the file \(60 bytes\)/);
    const hugeHeader = handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 4, 2);
    new DataView(hugeHeader.buffer).setUint32(8, 0x7fffffff, true);
    expect(readError(hugeHeader).message).toMatch(/header length 2147483647 exceeds/);
  });

  it('rejects Fortran order, big-endian, structured and unknown dtypes', () => {
    expect(readError(bytesOf(NUMPY.fortran)).message).toMatch(/Fortran order are not supported/);
    expect(readError(bytesOf(NUMPY.bigEndian)).message).toMatch(/'>f4' is big-endian/);
    expect(readError(handMade("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", 4)).message).toMatch(/structured dtypes/);
    const c8 = readError(handMade("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", 8)).message;
    expect(c8).toMatch(/dtype '<c8' is not supported \(supported: <f4 .*\|u1/);
    expect(readError(handMade("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", 8)).message).toMatch(/'\|O' is not supported/);
  });

  it('rejects absurd shapes without allocating', () => {
    const huge = readError(handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", 4)).message;
    expect(huge).toMatch(/too many elements/);
    const big = readError(handMade("{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }", 16)).message;
    expect(big).toMatch(/data has 16 bytes, but shape \(100000, 100000\) of <f8 needs 80000000000/);
    const digits = readError(handMade(`{'descr': '<f4', 'fortran_order': False, 'shape': (${'9'.repeat(30)},), }`, 4)).message;
    expect(digits).toMatch(/dimension 9+ is too large/);
    const rank = readError(handMade(`{'descr': '<f4', 'fortran_order': False, 'shape': (${'1, '.repeat(65)}), }`, 4)).message;
    expect(rank).toMatch(/more than 64 dimensions/);
    expect(readError(handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", 4)).message).toMatch(/expected a dimension/);
  });

  it('parses the header without evaluating it and insists on the three keys', () => {
    expect(readError(handMade("{'descr': '<f4', 'fortran_order': __import__('os'), 'shape': (1,), }", 4)).message).toMatch(/True or False/);
    expect(readError(handMade("{'descr': '<f4', 'shape': (1,), }", 4)).message).toMatch(/lacks one of/);
    expect(readError(handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 4)).message).toMatch(/unexpected header key 'x'/);
    expect(readError(handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (1,) } trailing", 4)).message).toMatch(/unexpected text/);
    expect(readError(handMade("{'descr': '<f4, 'fortran_order': False, 'shape': (1,), }", 4)).message).toMatch(/malformed header/);
    // Header keys may come in any order, with double quotes.
    const any = readNpy(handMade('{"shape": (2,), "fortran_order": False, "descr": "<i2"}', 4), 'ok.npy');
    expect(any).toMatchObject({ dtype: 'int16', shape: [2] });
  });
});
