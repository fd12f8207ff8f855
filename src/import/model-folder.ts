/**
 * A folder given as the config's `model`: a TF.js model (model.json inside) stays a folder; a
 * Hugging Face / Optimum export (config.json beside onnx/model.onnx or model.onnx) names its ONNX file.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ModelGateError } from '../errors.js';

/**
 * The model file a config path means: files are returned as they are; a folder resolves to
 * model.json (TF.js), else model.onnx or onnx/model.onnx, else the one .onnx file in it or in onnx/.
 * Several candidates and no model.onnx is an error listing them.
 */
export function resolveModelPath(file: string): string {
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat?.isDirectory()) return file;
  if (existsSync(path.join(file, 'model.json'))) return file;
  for (const preferred of ['model.onnx', path.join('onnx', 'model.onnx')]) {
    if (statSync(path.join(file, preferred), { throwIfNoEntry: false })?.isFile()) return path.join(file, preferred);
  }
  const found = ['.', 'onnx'].flatMap((sub) => {
    const dir = path.join(file, sub);
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return [];
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && e.name.toLowerCase().endsWith('.onnx'))
      .map((e) => path.join(sub, e.name));
  });
  found.sort();
  if (found.length === 1) return path.join(file, found[0]!);
  if (found.length > 1) {
    throw new ModelGateError(`${file}: the folder holds ${found.length} ONNX models (${found.join(', ')}) and no model.onnx; name one of them as the config's model`);
  }
  const hf = existsSync(path.join(file, 'config.json')) ? ' (a Hugging Face folder needs model.onnx or onnx/model.onnx: export it with optimum-cli export onnx)' : '';
  throw new ModelGateError(`${file}: the folder holds no model.json or .onnx model${hf}`);
}
