/**
 * Decoder-only language models in onnxruntime-genai's export layout: inputs input_ids, attention_mask,
 * (optional) position_ids and past_key_values.N.key/value [batch, kv_heads, past_seq, head_dim]; outputs
 * logits [batch, seq, vocab] and present.N.key/value. This module recognises the layout and builds the
 * feeds of a prefill (empty cache) and of a decode step (the cache a previous run returned).
 */
import { DataType, toNumber, type Model } from './onnx.js';
import type { Feeds, HostDType, HostTensor } from './host-tensor.js';
import { runtimeInputs } from './io.js';
import { ModelGateError } from '../errors.js';

const PAST = /^past_key_values\.(\d+)\.(key|value)$/;

export interface DecoderSignature {
  layers: number;
  /** Heads of the cache (kv heads: fewer than query heads under grouped-query attention). */
  kvHeads: number;
  headDim: number;
  /** Element type of the cache tensors. */
  kvType: 'float32' | 'float16';
  hasPositionIds: boolean;
  /** The vocabulary size when the logits output declares it. */
  vocab: number | null;
}

/** A decoder graph: input_ids plus past_key_values.* inputs and a logits output. */
export function isDecoderModel(model: Model): boolean {
  const names = runtimeInputs(model).map((i) => i.name ?? '');
  return names.includes('input_ids') && names.some((n) => PAST.test(n)) && (model.graph?.output ?? []).some((o) => o.name === 'logits');
}

export function decoderSignature(model: Model, file = 'model'): DecoderSignature {
  if (!isDecoderModel(model)) throw new ModelGateError(`${file}: not a decoder model (needs inputs input_ids and past_key_values.N.key/value, and an output logits)`);
  const past = runtimeInputs(model).filter((i) => PAST.test(i.name ?? ''));
  const layers = new Set(past.map((i) => Number(PAST.exec(i.name!)![1])));
  for (let l = 0; l < layers.size; l++) {
    for (const kv of ['key', 'value']) {
      if (!past.some((i) => i.name === `past_key_values.${l}.${kv}`)) throw new ModelGateError(`${file}: decoder input past_key_values.${l}.${kv} is missing`);
    }
  }
  const first = past[0]!;
  const tt = first.type?.tensorType;
  const dims = tt?.shape?.dim ?? [];
  const fixed = (i: number): number => {
    const d = dims[i];
    const v = d?.dimValue != null ? toNumber(d.dimValue) : 0;
    if (!(v > 0)) throw new ModelGateError(`${file}: input '${first.name}' must declare a fixed ${i === 1 ? 'head count' : 'head size'} (dimension ${i}), got '${d?.dimParam ?? '?'}'`);
    return v;
  };
  if (dims.length !== 4) throw new ModelGateError(`${file}: input '${first.name}' must be [batch, heads, past_sequence, head_dim], it has ${dims.length} dimensions`);
  const elem = tt?.elemType;
  if (elem !== DataType.FLOAT && elem !== DataType.FLOAT16) throw new ModelGateError(`${file}: input '${first.name}' must be float32 or float16`);
  const logits = (model.graph!.output ?? []).find((o) => o.name === 'logits')!;
  const ld = logits.type?.tensorType?.shape?.dim ?? [];
  const last = ld[ld.length - 1];
  const vocab = last?.dimValue != null && toNumber(last.dimValue) > 0 ? toNumber(last.dimValue) : null;
  return {
    layers: layers.size, kvHeads: fixed(1), headDim: fixed(3), kvType: elem === DataType.FLOAT16 ? 'float16' : 'float32',
    hasPositionIds: runtimeInputs(model).some((i) => i.name === 'position_ids'), vocab,
  };
}

function int64(values: ArrayLike<number>, dims: number[]): HostTensor {
  return { type: 'int64', dims, data: BigInt64Array.from(Array.from(values, (v) => BigInt(v))) };
}

function emptyCache(type: HostDType, dims: number[]): HostTensor {
  return { type, dims, data: type === 'float16' ? new Uint16Array(0) : new Float32Array(0) };
}

/**
 * Feeds for one batch-1 run over `tokens` that follow `pastLength` cached positions. With `past` null the
 * cache inputs are empty (a prefill, pastLength must be 0); else `past` maps each past_key_values name to
 * the tensor a previous run returned as the matching present.
 */
export function decoderFeeds(sig: DecoderSignature, tokens: readonly number[], pastLength: number, past: Record<string, HostTensor> | null): Feeds {
  const S = tokens.length;
  const feeds: Feeds = {
    input_ids: int64(tokens, [1, S]),
    attention_mask: int64(new Array<number>(pastLength + S).fill(1), [1, pastLength + S]),
  };
  if (sig.hasPositionIds) feeds.position_ids = int64(Array.from({ length: S }, (_, i) => pastLength + i), [1, S]);
  for (let l = 0; l < sig.layers; l++) {
    for (const kv of ['key', 'value'] as const) {
      const name = `past_key_values.${l}.${kv}`;
      feeds[name] = past ? past[name]! : emptyCache(sig.kvType, [1, sig.kvHeads, 0, sig.headDim]);
    }
  }
  return feeds;
}

/** The present.N.key/value outputs of a run, renamed to the past_key_values inputs of the next one. */
export function presentAsPast(sig: DecoderSignature, outputs: Record<string, HostTensor>, file = 'model'): Record<string, HostTensor> {
  const past: Record<string, HostTensor> = {};
  for (let l = 0; l < sig.layers; l++) {
    for (const kv of ['key', 'value']) {
      const t = outputs[`present.${l}.${kv}`];
      if (!t) throw new ModelGateError(`${file}: decoder output present.${l}.${kv} is missing`);
      past[`past_key_values.${l}.${kv}`] = t;
    }
  }
  return past;
}

/** Seeded token ids in [low, vocab): the same prompts for every model of a run. */
export function seededPrompt(rand: () => number, length: number, vocab: number, low = 1): number[] {
  return Array.from({ length }, () => low + Math.floor(rand() * (vocab - low)));
}
