/**
 * Detection post-processing: NonMaxSuppression V3/V4/V5 and Where (the coordinates of true elements),
 * ops whose output length depends on the data.
 */
import { DataType } from '../../../model/onnx.js';
import { intAttr, type GraphBuilder, type Value } from '../builder.js';
import type { OpConverter } from '../registry-types.js';

/** A scalar operand as a rank-1 tensor of one element in the ONNX type NonMaxSuppression wants. */
function oneElement(g: GraphBuilder, v: Value, to: 'int64' | 'float', suffix: string): string {
  if (v.constant) {
    const x = Number(v.constant[0]);
    return to === 'int64' ? g.int64s(suffix, [x]) : g.floats(suffix, [1], [x]);
  }
  let x = g.tf(v);
  if (to === 'int64' || v.dtype !== 'float32') x = g.emit('Cast', [x], [intAttr('to', to === 'int64' ? DataType.INT64 : DataType.FLOAT)], `${suffix}_cast`);
  return g.emit('Reshape', [x, g.int64s('one', [1])], [], suffix);
}

/**
 * TF's NonMaxSuppression on one image and one class, onto ONNX NonMaxSuppression (batch 1, class 1).
 * Both keep boxes whose score is above score_threshold, visit them by descending score and drop a box
 * whose IoU with a kept one is above iou_threshold; both take the corners in either order
 * ([y1, x1, y2, x2], center_point_box 0). ONNX gives [k, 3] (batch, class, box) rows: column 2 is
 * TF's selected_indices, in the same (selection) order. V4's pad_to_max_output_size pads the
 * indices with zeros to max_output_size; valid_outputs counts the unpadded ones. TF.js 4.22 runs V5
 * without padding whatever the attribute says, and gives it no valid_outputs output
 * (tfjs-converter, operations/executors/image_executor.ts): V5 follows TF.js on padding, and its
 * valid_outputs (output 2, TF's) is there for graphs converted elsewhere.
 * Soft-NMS (V5 with soft_nms_sigma > 0) rescores instead of dropping and has no ONNX equivalent.
 */
function nonMaxSuppression(version: 3 | 4 | 5): OpConverter {
  return (g, inputs) => {
    const [boxes, scores, maxOut, iou, scoreThreshold, sigma] = inputs;
    if (!boxes || !scores || !maxOut || !iou) g.fail('expects boxes, scores, max_output_size and iou_threshold');
    if (boxes.shape.length !== 2 || (boxes.shape[1] !== 4 && boxes.shape[1] !== -1)) g.fail(`boxes must be [num_boxes, 4], got [${boxes.shape.join(', ')}]`);
    if (scores.shape.length !== 1) g.fail(`scores must be [num_boxes], got [${scores.shape.join(', ')}]`);
    if (version === 5) {
      const s = Number(g.constValue(sigma, 'soft_nms_sigma')[0]);
      if (s !== 0) g.fail(`soft_nms_sigma ${s}: Soft-NMS is not supported (only 0, plain NMS)`);
    }
    const pad = version === 4 && g.attrs.bool('pad_to_max_output_size');
    const boxes3 = g.emit('Unsqueeze', [g.tf(boxes), g.int64s('axes', [0])], [], 'boxes');
    const scores3 = g.emit('Unsqueeze', [g.tf(scores), g.int64s('axes', [0, 1])], [], 'scores');
    const max64 = oneElement(g, maxOut, 'int64', 'max_output_size');
    const ins = [boxes3, scores3, max64, oneElement(g, iou, 'float', 'iou_threshold')];
    if (scoreThreshold) ins.push(oneElement(g, scoreThreshold, 'float', 'score_threshold'));
    const triples = g.emit('NonMaxSuppression', ins, [intAttr('center_point_box', 0)], 'selected');
    const picked = g.emit('Gather', [triples, g.int64s('box_column', [2])], [intAttr('axis', 1)], 'box_column');
    const indices64 = g.emit('Reshape', [picked, g.int64s('flat', [-1])], [], 'indices64');
    const count64 = g.emit('Shape', [indices64], [], 'count64');
    const maxKnown = maxOut.constant ? Number(maxOut.constant[0]) : -1;
    const length = pad ? maxKnown : -1;
    const padTo = (x: string, suffix: string): string => {
      if (!pad) return x;
      const pads = g.emit('Concat', [g.int64s('zero', [0]), g.emit('Sub', [max64, count64], [], 'pad_count')], [intAttr('axis', 0)], 'pads');
      return g.emit('Pad', [x, pads], [], suffix);
    };
    const indices: Value = {
      name: padTo(g.emit('Cast', [indices64], [intAttr('to', DataType.INT32)], 'selected_indices'), 'selected_indices_padded'),
      shape: [length],
      dtype: 'int32',
    };
    const valid: Value = {
      name: g.emit('Cast', [g.emit('Reshape', [count64, g.int64s('scalar', [])], [], 'count')], [intAttr('to', DataType.INT32)], 'valid_outputs'),
      shape: [],
      dtype: 'int32',
    };
    if (version === 3) return indices;
    if (version === 4) return [indices, valid];
    const selectedScores: Value = { name: padTo(g.emit('Gather', [g.tf(scores), indices64], [intAttr('axis', 0)], 'selected_scores'), 'selected_scores_padded'), shape: [length], dtype: 'float32' };
    return [indices, selectedScores, valid];
  };
}

export const nonMaxSuppressionV3 = nonMaxSuppression(3);
export const nonMaxSuppressionV4 = nonMaxSuppression(4);
export const nonMaxSuppressionV5 = nonMaxSuppression(5);

/** Where(condition) with one input: the [n, rank] int32 coordinates of the true (nonzero) elements, in row-major order as ONNX NonZero gives them. */
export const where: OpConverter = (g, inputs) => {
  const [x, other] = inputs;
  if (!x) g.fail('expects a condition');
  if (other) g.fail('Where with values is SelectV2, not this op');
  const nz = g.emit('NonZero', [g.tf(x)]);
  const coords = g.emit('Transpose', [nz], [{ name: 'perm', type: 7, ints: [1, 0] }], 'coordinates');
  return { name: g.emit('Cast', [coords], [intAttr('to', DataType.INT32)]), shape: [-1, x.shape.length], dtype: 'int32' };
};
