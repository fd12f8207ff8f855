/**
 * The config's JSON Schema: the one definition of modelgate.yml. `npm run schema` writes it to
 * schema/modelgate.schema.json (editors use it for completion); a test keeps the two equal.
 * Pass options are validated by each pass's own schema (src/passes), not here.
 */
const positiveInt = { type: 'integer', minimum: 1 } as const;
const dtype = { enum: ['float32', 'float16', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool'] } as const;
const candidateName = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: 'Candidate id: letters, digits, . _ -' } as const;
const numberOrList = { oneOf: [{ type: 'number' }, { type: 'array', items: { type: 'number' }, minItems: 1 }] } as const;

export const configSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://github.com/modelgate/modelgate/schema/modelgate.schema.json',
  title: 'ModelGate configuration (modelgate.yml)',
  type: 'object',
  additionalProperties: false,
  required: ['model'],
  properties: {
    model: { type: 'string', minLength: 1, description: 'Path to the model (.onnx, .tflite, Keras .h5/.keras, or a TF.js model.json), relative to this file.' },
    inputs: {
      type: 'object',
      description: 'Per model input: fixes dynamic dimensions, and drives synthetic data when there is no dataset.',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          shape: { type: 'array', items: positiveInt, minItems: 0, maxItems: 8 },
          dtype,
          range: { type: 'array', items: { type: 'number' }, minItems: 2, maxItems: 2 },
        },
      },
    },
    dataset: {
      type: 'object',
      additionalProperties: false,
      required: ['inputs'],
      properties: {
        inputs: { type: 'string', minLength: 1, description: '.npy or IDX (.idx3-ubyte, optionally .gz)' },
        labels: { type: 'string', minLength: 1, description: '.npy or IDX (.idx1-ubyte, optionally .gz)' },
        limit: positiveInt,
        preprocess: {
          type: 'object',
          additionalProperties: false,
          properties: { scale: { type: 'number' }, mean: numberOrList, std: numberOrList },
        },
      },
    },
    metric: { enum: ['top1', 'top5', 'mse'], default: 'top1' },
    // export step: src/import/export-command.ts
    export: {
      type: 'object',
      additionalProperties: false,
      required: ['run'],
      description: 'A command that writes the model before the pipeline runs (torch.onnx.export, tf2onnx, ...), run in this file\'s folder.',
      properties: {
        run: { type: 'string', minLength: 1, description: 'Shell command, e.g. "python export.py --out build/model.onnx".' },
        output: { type: 'string', minLength: 1, description: 'The file the command must write; default: model.' },
        timeout: { type: 'number', exclusiveMinimum: 0, maximum: 86400, default: 600, description: 'Seconds before the command is killed.' },
      },
    },
    tfjs_export: {
      type: 'object',
      additionalProperties: false,
      description: 'Write the (Keras or TF.js) source model as TF.js layers models for the web; each variant becomes a candidate run on TF.js, measured in the same run as the others.',
      properties: {
        quantize: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['none', 'uint8', 'uint16', 'float16'] }, default: ['uint8'], description: 'Weight storage of each variant.' },
        runs: { ...positiveInt, default: 50, description: 'Timed predict() calls per variant.' },
      },
    },
    optimize: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        // an entry is either { name, passes } or { auto: {...}, name? } (the search: src/search/auto.ts)
        if: { required: ['auto'] },
        then: {
          additionalProperties: false,
          properties: {
            name: candidateName,
            auto: {
              type: ['object', 'null'],
              description: 'Search the recipe on the runner: the smallest model within the accuracy budget that is not slower than fp32.',
              additionalProperties: false,
              properties: {
                accuracy_drop_max: { type: 'number', minimum: 0, description: 'Accuracy drop allowed against the reference; default gate.accuracy_drop_max, else 0.005.' },
                time_budget_s: { type: 'number', exclusiveMinimum: 0, maximum: 86400, description: 'Search budget in seconds; default 120 for models up to 20 MB.' },
                latency_ratio_max: { type: 'number', exclusiveMinimum: 0, description: 'Largest p50 ratio against fp32 the winner may have; default 1.0 (not slower).' },
                recipes: {
                  type: 'array',
                  minItems: 1,
                  uniqueItems: true,
                  items: { enum: ['cleanup', 'dynamic', 'dynamic_weight_only', 'static', 'weight_only', 'dynamic_conv', 'fp16', 'lowrank', 'prune', 'int4_weight_only', 'int8_weight_only', 'fp32'] },
                  description: 'Recipe families to try; default: those that fit the model and the CPU.',
                },
              },
            },
          },
        },
        else: {
          additionalProperties: false,
          required: ['name', 'passes'],
          properties: {
            name: candidateName,
            passes: {
              type: 'array',
              minItems: 1,
              items: { type: 'object', minProperties: 1, maxProperties: 1, additionalProperties: { type: ['object', 'null'] } },
            },
          },
        },
      },
    },
    benchmark: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        batch: { ...positiveInt, default: 1 },
        threads: { ...positiveInt, default: 1 },
        warmup: { type: 'integer', minimum: 0, default: 10 },
        runs: { ...positiveInt, default: 100 },
        measurements: { type: 'integer', minimum: 1, maximum: 9, default: 3, description: 'Independent interleaved measurements, fresh workers each; the median one decides the latency verdict.' },
        decoder: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description: 'Decoder models (input_ids, past_key_values.N.key/value, logits): how their latency is measured.',
          properties: {
            prefill_tokens: { ...positiveInt, default: 128, description: 'Prompt tokens of the time-to-first-token measurement, and the KV-cache length of the per-token decode measurement.' },
          },
        },
      },
    },
    gate: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        accuracy_drop_max: { type: 'number', minimum: 0, description: 'Absolute accuracy drop allowed against the reference (0.005 = half a point).' },
        latency_ratio_max: { type: 'number', exclusiveMinimum: 0, description: 'p50 latency ratio allowed against the reference.' },
        size_bytes_max: { type: 'integer', minimum: 1, description: 'Largest model file allowed, in bytes.' },
        fidelity_min_snr_db: { type: 'number', description: 'Least SNR in dB of the worst output against the reference, the quality check when there are no labels and top-1 agreement does not fit the output (a single value, a dense map); default 20.' },
        ttft_ratio_max: { type: 'number', exclusiveMinimum: 0, description: 'Decoders: time-to-first-token ratio allowed against the reference; fails only when the whole 95% CI is above it. Default: latency_ratio_max.' },
        decode_ratio_max: { type: 'number', exclusiveMinimum: 0, description: 'Decoders: per-token decode latency ratio allowed against the reference; fails only when the whole 95% CI is above it. Default: latency_ratio_max.' },
      },
    },
    select: { enum: ['smallest-passing', 'fastest-passing', 'most-accurate-passing'], default: 'smallest-passing' },
  },
} as const;
