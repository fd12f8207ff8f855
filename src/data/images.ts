/**
 * Image folders: one subfolder per class, PNG and JPEG files inside. Images are decoded one batch
 * at a time with pure-JS decoders (pngjs, jpeg-js: the action bundle stays free of native code),
 * converted to the input's channel count, resized bilinearly to its H×W and laid out as the
 * model's input shape says (C×H×W or H×W×C).
 */
import { closeSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { ModelGateError, errorMessage } from '../errors.js';
import { openRegular, readAt, type SampleCursor, type SampleSource } from './source.js';

const EXTENSIONS = /\.(png|jpe?g)$/i;
/** Bigger image files are refused before decoding (a photo is a few MB). */
const MAX_IMAGE_BYTES = 64 << 20;
/** Decoded pixel budget per image, in megapixels (jpeg-js enforces it while decoding). */
const MAX_IMAGE_MEGAPIXELS = 100;

export interface ImageLayout {
  channels: number;
  height: number;
  width: number;
  /** True for C×H×W samples, false for H×W×C (and for H×W, which has one channel). */
  channelsFirst: boolean;
}

/** Reads C×H×W or H×W×C from a sample shape: the channel axis is the one of size 1, 3 or 4 at either end. */
export function imageLayout(sample: number[], input: string, key = 'dataset'): ImageLayout {
  const isC = (d: number | undefined) => d === 1 || d === 3 || d === 4;
  if (sample.length === 2) return { channels: 1, height: sample[0]!, width: sample[1]!, channelsFirst: false };
  if (sample.length === 3) {
    const [a, b, c] = sample as [number, number, number];
    const first = { channels: a, height: b, width: c, channelsFirst: true };
    const last = { channels: c, height: a, width: b, channelsFirst: false };
    // Both ends may look like channels ([1, 4, 4]); then the reading with a square image wins, else C×H×W (ONNX's convention).
    if (isC(a) && isC(c)) return a !== c && b === a ? last : b === c ? first : b === a ? last : first;
    if (isC(a)) return first;
    if (isC(c)) return last;
  }
  throw new ModelGateError(`${key}.images: input '${input}' takes samples of shape [${sample.join(', ')}], which is not an image (C×H×W or H×W×C with 1, 3 or 4 channels, or H×W)`);
}

interface Entry {
  file: string;
  /** Relative to the folder, for messages. */
  name: string;
  label: number;
}

/** Class folders and their images. Images are interleaved class by class, so `limit` keeps every class. */
function listImages(root: string, display: string, classes: string[] | undefined, key: string): { entries: Entry[]; classes: string[] } {
  let st;
  try {
    st = statSync(root);
  } catch (err) {
    throw new ModelGateError(`${key}.images: cannot read ${display} (${errorMessage(err)})`, { cause: err });
  }
  if (!st.isDirectory()) throw new ModelGateError(`${key}.images: ${display} is not a folder`);
  const folders = readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  const order = classes ?? folders;
  if (order.length === 0) throw new ModelGateError(`${key}.images: ${display} has no class subfolders (one subfolder per class, images inside)`);
  for (const c of classes ?? []) {
    if (!folders.includes(c)) throw new ModelGateError(`${key}.classes: class '${c}' has no folder in ${display} (folders: ${folders.join(', ') || 'none'})`);
  }
  const perClass = order.map((c, label) => {
    const dir = path.join(root, c);
    const files = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isFile() && EXTENSIONS.test(d.name)).map((d) => d.name).sort();
    if (files.length === 0) throw new ModelGateError(`${key}.images: class folder ${path.join(display, c)} has no PNG or JPEG images`);
    return files.map((f) => ({ file: path.join(dir, f), name: path.join(display, c, f), label }));
  });
  const entries: Entry[] = [];
  const longest = Math.max(...perClass.map((l) => l.length));
  for (let i = 0; i < longest; i++) for (const list of perClass) if (i < list.length) entries.push(list[i]!);
  return { entries, classes: order };
}

interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

function decode(entry: Entry): Rgba {
  const { fd, size } = openRegular(entry.file, entry.name);
  let bytes: Uint8Array;
  try {
    if (size > MAX_IMAGE_BYTES) throw new ModelGateError(`${entry.name}: ${size} bytes is over the ${MAX_IMAGE_BYTES}-byte image limit`);
    bytes = readAt(fd, size, 0, entry.name);
  } finally {
    closeSync(fd);
  }
  const isPng = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  try {
    if (isPng) {
      // The IHDR chunk comes first: refuse a huge canvas before pngjs allocates it.
      if (bytes.length >= 24) {
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const w = view.getUint32(16), h = view.getUint32(20);
        if (w * h > MAX_IMAGE_MEGAPIXELS * 1e6) throw new Error(`${w}×${h} is over ${MAX_IMAGE_MEGAPIXELS} megapixels`);
      }
      const png = PNG.sync.read(Buffer.from(bytes));
      return { width: png.width, height: png.height, data: png.data };
    }
    if (isJpeg) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_IMAGE_MEGAPIXELS, maxMemoryUsageInMB: 1024 });
      return { width: img.width, height: img.height, data: img.data };
    }
  } catch (err) {
    throw new ModelGateError(`${entry.name}: cannot decode the image (${errorMessage(err)})`, { cause: err });
  }
  throw new ModelGateError(`${entry.name}: cannot decode the image (neither PNG nor JPEG data)`);
}

/** RGBA → the wanted channel count, as planes [c][y][x] of numbers. Gray pixels stay exact. */
function toPlanes(img: Rgba, channels: number): Float64Array[] {
  const n = img.width * img.height;
  const planes = Array.from({ length: channels }, () => new Float64Array(n));
  const d = img.data;
  for (let p = 0; p < n; p++) {
    const r = d[4 * p]!, g = d[4 * p + 1]!, b = d[4 * p + 2]!;
    if (channels === 1) {
      // ITU-R BT.601 luma, as PIL's convert('L'); a gray pixel keeps its value exactly.
      planes[0]![p] = r === g && g === b ? r : 0.299 * r + 0.587 * g + 0.114 * b;
    } else {
      planes[0]![p] = r;
      planes[1]![p] = g;
      planes[2]![p] = b;
      if (channels === 4) planes[3]![p] = d[4 * p + 3]!;
    }
  }
  return planes;
}

/** Bilinear resize with half-pixel centers (align_corners = false), the convention of PIL and torchvision. */
function resize(plane: Float64Array, w: number, h: number, W: number, H: number): Float64Array {
  if (w === W && h === H) return plane;
  const out = new Float64Array(W * H);
  const sx = w / W, sy = h / H;
  for (let y = 0; y < H; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), h - 1);
    const y0 = Math.floor(fy), y1 = Math.min(y0 + 1, h - 1), ty = fy - y0;
    for (let x = 0; x < W; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), w - 1);
      const x0 = Math.floor(fx), x1 = Math.min(x0 + 1, w - 1), tx = fx - x0;
      const top = plane[y0 * w + x0]! * (1 - tx) + plane[y0 * w + x1]! * tx;
      const bottom = plane[y1 * w + x0]! * (1 - tx) + plane[y1 * w + x1]! * tx;
      out[y * W + x] = top * (1 - ty) + bottom * ty;
    }
  }
  return out;
}

/** One image as the input's sample: pixel values 0..255 before `preprocess`. */
export function imageSample(img: Rgba, layout: ImageLayout): Float64Array {
  const { channels, height: H, width: W } = layout;
  const planes = toPlanes(img, channels).map((p) => resize(p, img.width, img.height, W, H));
  const out = new Float64Array(channels * H * W);
  if (layout.channelsFirst || channels === 1) {
    planes.forEach((p, c) => out.set(p, c * H * W));
  } else {
    for (let i = 0; i < H * W; i++) for (let c = 0; c < channels; c++) out[i * channels + c] = planes[c]![i]!;
  }
  return out;
}

export function imageFolderSource(root: string, display: string, input: string, sample: number[], classes: string[] | undefined, key = 'dataset'): SampleSource & { classes: string[] } {
  const layout = imageLayout(sample, input, key);
  const listed = listImages(root, display, classes, key);
  const { entries } = listed;
  const per = layout.channels * layout.height * layout.width;
  return {
    file: display,
    total: entries.length,
    keys: new Map([[input, per]]),
    labelWidth: 1,
    labelKey: 'class folder',
    classes: listed.classes,
    describe: (i) => entries[i]?.name ?? `${display} image ${i}`,
    open(): SampleCursor {
      let at = 0;
      return {
        read(n: number) {
          const m = Math.max(0, Math.min(n, entries.length - at));
          const values = new Float64Array(m * per);
          const labels = new Float64Array(m);
          for (let k = 0; k < m; k++) {
            const e = entries[at + k]!;
            values.set(imageSample(decode(e), layout), k * per);
            labels[k] = e.label;
          }
          at += m;
          return { values: new Map([[input, values]]), labels };
        },
        close: () => undefined,
      };
    },
  };
}
