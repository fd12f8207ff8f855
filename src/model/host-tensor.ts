import type { TypedArray } from './tensor.js';

/** A runtime-neutral tensor: what datasets produce and runtimes consume. */
export type HostDType = 'float32' | 'float16' | 'float64' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'bool';

export interface HostTensor {
  type: HostDType;
  dims: number[];
  data: TypedArray;
}

export type Feeds = Record<string, HostTensor>;
