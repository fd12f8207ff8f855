/**
 * The parts of the TensorFlow Lite flatbuffer schema (tensorflow/lite/schema/schema.fbs, schema version 3,
 * file identifier "TFL3") that ModelGate reads and writes. No copy of schema.fbs ships in any npm package we
 * install (tfjs-tflite-node ships only the C API headers), so the codec is written by hand against the
 * schema's field order: in a flatbuffer table, field i sits in vtable slot i, and a union field takes two
 * slots (its type byte, then the table). The slot numbers below are that order, counted from schema.fbs.
 */

export const FILE_IDENTIFIER = 'TFL3';
export const SCHEMA_VERSION = 3;

/** enum TensorType : byte */
export const TensorType = {
  FLOAT32: 0, FLOAT16: 1, INT32: 2, UINT8: 3, INT64: 4, STRING: 5, BOOL: 6, INT16: 7, COMPLEX64: 8, INT8: 9,
  FLOAT64: 10, COMPLEX128: 11, UINT64: 12, RESOURCE: 13, VARIANT: 14, UINT32: 15, UINT16: 16, INT4: 17,
} as const;
export type TensorTypeCode = (typeof TensorType)[keyof typeof TensorType];

export const TENSOR_TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(TensorType).map(([k, v]) => [v, k]));

/** Bytes per element, for the types a buffer can hold here. */
export const TENSOR_TYPE_BYTES: Partial<Record<number, number>> = {
  [TensorType.FLOAT32]: 4, [TensorType.FLOAT16]: 2, [TensorType.INT32]: 4, [TensorType.UINT8]: 1, [TensorType.INT64]: 8,
  [TensorType.BOOL]: 1, [TensorType.INT16]: 2, [TensorType.INT8]: 1, [TensorType.FLOAT64]: 8, [TensorType.UINT64]: 8,
  [TensorType.UINT32]: 4, [TensorType.UINT16]: 2,
};

/** enum BuiltinOperator : int32: the codes ModelGate emits or imports (OP_NAMES names every code). */
export const Op = {
  ADD: 0, AVERAGE_POOL_2D: 1, CONCATENATION: 2, CONV_2D: 3, DEPTHWISE_CONV_2D: 4, DEQUANTIZE: 6, FULLY_CONNECTED: 9,
  LOGISTIC: 14, MAX_POOL_2D: 17, MUL: 18, RELU: 19, RELU_N1_TO_1: 20, RELU6: 21, RESHAPE: 22, SOFTMAX: 25, TANH: 28,
  RESIZE_BILINEAR: 23, CUSTOM: 32, PAD: 34, TRANSPOSE: 39, MEAN: 40, SUB: 41, SQUEEZE: 43, CAST: 53, MAXIMUM: 55,
  MINIMUM: 57, PADV2: 60, TRANSPOSE_CONV: 67, EXPAND_DIMS: 70, LOG: 73, REDUCE_MAX: 82, LEAKY_RELU: 98, QUANTIZE: 114,
  HARD_SWISH: 117, BATCH_MATMUL: 126, PLACEHOLDER_FOR_GREATER_OP_CODES: 127,
} as const;

/**
 * Every BuiltinOperator's name by code (schema.fbs, codes 0-161), so that a message about an op the import does not
 * handle names it rather than printing its number.
 */
const BUILTIN_NAMES: readonly string[] = [
  'ADD', 'AVERAGE_POOL_2D', 'CONCATENATION', 'CONV_2D', 'DEPTHWISE_CONV_2D', 'DEPTH_TO_SPACE', 'DEQUANTIZE',
  'EMBEDDING_LOOKUP', 'FLOOR', 'FULLY_CONNECTED', 'HASHTABLE_LOOKUP', 'L2_NORMALIZATION', 'L2_POOL_2D',
  'LOCAL_RESPONSE_NORMALIZATION', 'LOGISTIC', 'LSH_PROJECTION', 'LSTM', 'MAX_POOL_2D', 'MUL', 'RELU', 'RELU_N1_TO_1',
  'RELU6', 'RESHAPE', 'RESIZE_BILINEAR', 'RNN', 'SOFTMAX', 'SPACE_TO_DEPTH', 'SVDF', 'TANH', 'CONCAT_EMBEDDINGS',
  'SKIP_GRAM', 'CALL', 'CUSTOM', 'EMBEDDING_LOOKUP_SPARSE', 'PAD', 'UNIDIRECTIONAL_SEQUENCE_RNN', 'GATHER',
  'BATCH_TO_SPACE_ND', 'SPACE_TO_BATCH_ND', 'TRANSPOSE', 'MEAN', 'SUB', 'DIV', 'SQUEEZE',
  'UNIDIRECTIONAL_SEQUENCE_LSTM', 'STRIDED_SLICE', 'BIDIRECTIONAL_SEQUENCE_RNN', 'EXP', 'TOPK_V2', 'SPLIT',
  'LOG_SOFTMAX', 'DELEGATE', 'BIDIRECTIONAL_SEQUENCE_LSTM', 'CAST', 'PRELU', 'MAXIMUM', 'ARG_MAX', 'MINIMUM', 'LESS',
  'NEG', 'PADV2', 'GREATER', 'GREATER_EQUAL', 'LESS_EQUAL', 'SELECT', 'SLICE', 'SIN', 'TRANSPOSE_CONV',
  'SPARSE_TO_DENSE', 'TILE', 'EXPAND_DIMS', 'EQUAL', 'NOT_EQUAL', 'LOG', 'SUM', 'SQRT', 'RSQRT', 'SHAPE', 'POW',
  'ARG_MIN', 'FAKE_QUANT', 'REDUCE_PROD', 'REDUCE_MAX', 'PACK', 'LOGICAL_OR', 'ONE_HOT', 'LOGICAL_AND',
  'LOGICAL_NOT', 'UNPACK', 'REDUCE_MIN', 'FLOOR_DIV', 'REDUCE_ANY', 'SQUARE', 'ZEROS_LIKE', 'FILL', 'FLOOR_MOD',
  'RANGE', 'RESIZE_NEAREST_NEIGHBOR', 'LEAKY_RELU', 'SQUARED_DIFFERENCE', 'MIRROR_PAD', 'ABS', 'SPLIT_V', 'UNIQUE',
  'CEIL', 'REVERSE_V2', 'ADD_N', 'GATHER_ND', 'COS', 'WHERE', 'RANK', 'ELU', 'REVERSE_SEQUENCE', 'MATRIX_DIAG',
  'QUANTIZE', 'MATRIX_SET_DIAG', 'ROUND', 'HARD_SWISH', 'IF', 'WHILE', 'NON_MAX_SUPPRESSION_V4',
  'NON_MAX_SUPPRESSION_V5', 'SCATTER_ND', 'SELECT_V2', 'DENSIFY', 'SEGMENT_SUM', 'BATCH_MATMUL',
  'PLACEHOLDER_FOR_GREATER_OP_CODES', 'CUMSUM', 'CALL_ONCE', 'BROADCAST_TO', 'RFFT2D', 'CONV_3D', 'IMAG', 'REAL',
  'COMPLEX_ABS', 'HASHTABLE', 'HASHTABLE_FIND', 'HASHTABLE_IMPORT', 'HASHTABLE_SIZE', 'REDUCE_ALL',
  'CONV_3D_TRANSPOSE', 'VAR_HANDLE', 'READ_VARIABLE', 'ASSIGN_VARIABLE', 'BROADCAST_ARGS', 'RANDOM_STANDARD_NORMAL',
  'BUCKETIZE', 'RANDOM_UNIFORM', 'MULTINOMIAL', 'GELU', 'DYNAMIC_UPDATE_SLICE', 'RELU_0_TO_1',
  'UNSORTED_SEGMENT_PROD', 'UNSORTED_SEGMENT_MAX', 'UNSORTED_SEGMENT_SUM', 'ATAN2', 'UNSORTED_SEGMENT_MIN', 'SIGN',
  'BITCAST', 'BITWISE_XOR', 'RIGHT_SHIFT',
];

export const OP_NAMES: Record<number, string> = { ...Object.fromEntries(BUILTIN_NAMES.map((n, i) => [i, n])), ...Object.fromEntries(Object.entries(Op).map(([k, v]) => [v, k])) };

export function opName(code: number): string {
  return OP_NAMES[code] ?? `builtin operator ${code}`;
}

/** union BuiltinOptions: the type byte of each options table (NONE = 0). */
export const Options = {
  NONE: 0, Conv2D: 1, DepthwiseConv2D: 2, Pool2D: 5, FullyConnected: 8, Softmax: 9, Concatenation: 10, Add: 11,
  ResizeBilinear: 15, Reshape: 17, Mul: 21, Pad: 22, Transpose: 26, Reducer: 27, Sub: 28, Squeeze: 30, Dequantize: 38,
  MaximumMinimum: 39, PadV2: 43, TransposeConv: 49, ExpandDims: 52, LeakyRelu: 75, Quantize: 89, HardSwish: 91, BatchMatMul: 101,
} as const;

export const Padding = { SAME: 0, VALID: 1 } as const;

/** enum ActivationFunctionType : byte */
export const Activation = { NONE: 0, RELU: 1, RELU_N1_TO_1: 2, RELU6: 3, TANH: 4, SIGN_BIT: 5 } as const;
export type ActivationCode = (typeof Activation)[keyof typeof Activation];

type FieldKind = 'byte' | 'bool' | 'int' | 'float' | 'int[]';

/**
 * Fields of each options table, in schema order (= vtable slot), with their schema defaults. Options
 * are plain records keyed by these snake_case names, so a reader and a writer share one description.
 */
export const OPTION_FIELDS: Record<number, ReadonlyArray<readonly [string, FieldKind, number?]>> = {
  [Options.Conv2D]: [['padding', 'byte'], ['stride_w', 'int'], ['stride_h', 'int'], ['fused_activation_function', 'byte'], ['dilation_w_factor', 'int', 1], ['dilation_h_factor', 'int', 1], ['quantized_bias_type', 'byte']],
  [Options.DepthwiseConv2D]: [['padding', 'byte'], ['stride_w', 'int'], ['stride_h', 'int'], ['depth_multiplier', 'int'], ['fused_activation_function', 'byte'], ['dilation_w_factor', 'int', 1], ['dilation_h_factor', 'int', 1]],
  [Options.Pool2D]: [['padding', 'byte'], ['stride_w', 'int'], ['stride_h', 'int'], ['filter_width', 'int'], ['filter_height', 'int'], ['fused_activation_function', 'byte']],
  [Options.FullyConnected]: [['fused_activation_function', 'byte'], ['weights_format', 'byte'], ['keep_num_dims', 'bool'], ['asymmetric_quantize_inputs', 'bool'], ['quantized_bias_type', 'byte']],
  [Options.Softmax]: [['beta', 'float']],
  [Options.Concatenation]: [['axis', 'int'], ['fused_activation_function', 'byte']],
  [Options.Add]: [['fused_activation_function', 'byte'], ['pot_scale_int16', 'bool', 1]],
  [Options.Sub]: [['fused_activation_function', 'byte'], ['pot_scale_int16', 'bool', 1]],
  [Options.Mul]: [['fused_activation_function', 'byte']],
  [Options.Reshape]: [['new_shape', 'int[]']],
  [Options.Reducer]: [['keep_dims', 'bool']],
  [Options.Squeeze]: [['squeeze_dims', 'int[]']],
  [Options.Pad]: [],
  [Options.PadV2]: [],
  [Options.Transpose]: [],
  [Options.Dequantize]: [],
  [Options.Quantize]: [],
  // new_height and new_width are deprecated (the size is input 1) but keep their slots.
  [Options.ResizeBilinear]: [['new_height', 'int'], ['new_width', 'int'], ['align_corners', 'bool'], ['half_pixel_centers', 'bool']],
  [Options.MaximumMinimum]: [],
  [Options.TransposeConv]: [['padding', 'byte'], ['stride_w', 'int'], ['stride_h', 'int'], ['fused_activation_function', 'byte'], ['quantized_bias_type', 'byte']],
  [Options.ExpandDims]: [],
  [Options.LeakyRelu]: [['alpha', 'float']],
  [Options.HardSwish]: [],
  [Options.BatchMatMul]: [['adj_x', 'bool'], ['adj_y', 'bool'], ['asymmetric_quantize_inputs', 'bool']],
};

/** The options table each builtin operator carries (ops not listed carry none). */
export const OP_OPTIONS: Partial<Record<number, number>> = {
  [Op.CONV_2D]: Options.Conv2D, [Op.DEPTHWISE_CONV_2D]: Options.DepthwiseConv2D, [Op.AVERAGE_POOL_2D]: Options.Pool2D,
  [Op.MAX_POOL_2D]: Options.Pool2D, [Op.FULLY_CONNECTED]: Options.FullyConnected, [Op.SOFTMAX]: Options.Softmax,
  [Op.CONCATENATION]: Options.Concatenation, [Op.ADD]: Options.Add, [Op.SUB]: Options.Sub, [Op.MUL]: Options.Mul,
  [Op.RESHAPE]: Options.Reshape, [Op.MEAN]: Options.Reducer, [Op.SQUEEZE]: Options.Squeeze, [Op.PAD]: Options.Pad,
  [Op.PADV2]: Options.PadV2, [Op.TRANSPOSE]: Options.Transpose, [Op.DEQUANTIZE]: Options.Dequantize, [Op.QUANTIZE]: Options.Quantize,
  [Op.RESIZE_BILINEAR]: Options.ResizeBilinear, [Op.MAXIMUM]: Options.MaximumMinimum, [Op.MINIMUM]: Options.MaximumMinimum,
  [Op.TRANSPOSE_CONV]: Options.TransposeConv, [Op.EXPAND_DIMS]: Options.ExpandDims, [Op.REDUCE_MAX]: Options.Reducer,
  [Op.LEAKY_RELU]: Options.LeakyRelu, [Op.HARD_SWISH]: Options.HardSwish, [Op.BATCH_MATMUL]: Options.BatchMatMul,
};

/**
 * Vtable slots of the tables the codec walks (schema order; unions count twice).
 *   Model: version, operator_codes, subgraphs, description, buffers, metadata_buffer, metadata, signature_defs
 *   SubGraph: tensors, inputs, outputs, operators, name
 *   Tensor: shape, type, buffer, name, quantization, is_variable, sparsity, shape_signature, has_rank
 *   QuantizationParameters: min, max, scale, zero_point, details_type, details, quantized_dimension
 *   OperatorCode: deprecated_builtin_code, custom_code, version, builtin_code
 *   Operator: opcode_index, inputs, outputs, builtin_options_type, builtin_options, custom_options, custom_options_format, ...
 *   Buffer: data, offset, size
 *   Metadata: name, buffer
 */
export const Slot = {
  Model: { version: 0, operator_codes: 1, subgraphs: 2, description: 3, buffers: 4, metadata_buffer: 5, metadata: 6, signature_defs: 7, count: 8 },
  SubGraph: { tensors: 0, inputs: 1, outputs: 2, operators: 3, name: 4, count: 5 },
  Tensor: { shape: 0, type: 1, buffer: 2, name: 3, quantization: 4, is_variable: 5, sparsity: 6, shape_signature: 7, has_rank: 8, count: 9 },
  Quantization: { min: 0, max: 1, scale: 2, zero_point: 3, details_type: 4, details: 5, quantized_dimension: 6, count: 7 },
  OperatorCode: { deprecated_builtin_code: 0, custom_code: 1, version: 2, builtin_code: 3, count: 4 },
  Operator: { opcode_index: 0, inputs: 1, outputs: 2, builtin_options_type: 3, builtin_options: 4, custom_options: 5, custom_options_format: 6, count: 7 },
  Buffer: { data: 0, offset: 1, size: 2, count: 3 },
  Metadata: { name: 0, buffer: 1, count: 2 },
} as const;
