// ONNX Runtime baseline for `make bench`: times one ONNX image encoder (bench/ort/export_onnx.py)
// with onnxruntime-node on the CPU and prints one JSON line on stdout.
//
//   node run_ort.mjs MODEL.onnx --size S [--reps R] [--threads T] [--mode surgery]
//        [--in PIXELS.f32 | --save-pixels PIXELS.f32] [--out FEATURES.f32]
//        [--node-modules DIR] [--optimized OUT.onnx] [--gflop G]
//
// --in: raw little-endian float32 [1, 3, S, S] pixels (default: fixed-seed pseudo-random values).
// --save-pixels: writes the pixels fed (e.g. the random ones) as raw float32, for a parity check.
// --out: writes the output "features" of the first run as raw float32 [1 + N, D].
// --node-modules: where onnxruntime-node is installed (default $ORT_NODE_MODULES, else the usual
//   module resolution from this file). --optimized: ORT writes the graph it runs (after its
//   optimisations) there, to see which fusions it made. --gflop: the graph's matrix-product
//   GFLOP (export_onnx.py --flops-out), printed with the GFLOP/s reached.
// Session: intraOpNumThreads T (default 2), interOpNumThreads 1, graphOptimizationLevel 'all',
// executionMode 'sequential'. One warm-up run, then R timed runs (default 3).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';

function die(msg) {
  process.stderr.write(`run_ort: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const a = { reps: 3, threads: 2, mode: 'surgery', size: 0 };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) die(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--size') a.size = parseInt(val(), 10);
    else if (k === '--reps') a.reps = parseInt(val(), 10);
    else if (k === '--threads') a.threads = parseInt(val(), 10);
    else if (k === '--mode') a.mode = val();
    else if (k === '--in') a.input = val();
    else if (k === '--out') a.out = val();
    else if (k === '--save-pixels') a.savePixels = val();
    else if (k === '--node-modules') a.modules = val();
    else if (k === '--optimized') a.optimized = val();
    else if (k === '--gflop') a.gflop = parseFloat(val());
    else if (k.startsWith('--')) die(`unknown option ${k}`);
    else rest.push(k);
  }
  if (rest.length !== 1) die('usage: run_ort.mjs MODEL.onnx --size S [--reps R] [--threads T] ' +
                             '[--in PIXELS.f32] [--out FEATURES.f32] [--node-modules DIR]');
  a.model = rest[0];
  if (!(a.size > 0)) die('--size S is needed (the size the model was exported for)');
  if (!(a.reps >= 1)) die('--reps must be at least 1');
  if (!(a.threads >= 1)) die('--threads must be at least 1');
  return a;
}

// mulberry32: a small fixed-seed generator, so every run feeds the same pixels
function pixels(n, seed) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s + 0x6D2B79F5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = 4 * u - 2; // roughly the range of CLIP-normalised pixels
  }
  return out;
}

function loadOrt(modules) {
  const dir = modules || process.env.ORT_NODE_MODULES;
  const req = createRequire(dir ? path.join(path.resolve(dir), 'noop.js') : import.meta.url);
  let ort, version = 'unknown';
  try {
    ort = req('onnxruntime-node');
  } catch (e) {
    die(`cannot load onnxruntime-node${dir ? ' from ' + dir : ''}: ${e.message}`);
  }
  try {
    version = JSON.parse(fs.readFileSync(req.resolve('onnxruntime-node/package.json'))).version;
  } catch (e) {
    if (ort.env && ort.env.versions && ort.env.versions.node) version = ort.env.versions.node;
  }
  return { ort, version };
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const { ort, version } = loadOrt(a.modules);
  const n = 3 * a.size * a.size;
  let data;
  if (a.input) {
    const buf = fs.readFileSync(a.input);
    if (buf.length !== 4 * n) die(`${a.input} holds ${buf.length} bytes, expected ${4 * n}`);
    data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  } else {
    data = pixels(n, 1234);
  }
  if (a.savePixels) fs.writeFileSync(a.savePixels, Buffer.from(data.buffer, 0, data.byteLength));
  const options = {
    executionProviders: ['cpu'],
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    logSeverityLevel: 3, // errors only on stderr
  };
  if (a.optimized) options.optimizedModelFilePath = a.optimized;
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(a.model, options);
  const loadS = Number(process.hrtime.bigint() - t0) / 1e9;
  const feeds = { pixels: new ort.Tensor('float32', data, [1, 3, a.size, a.size]) };

  let first = await session.run(feeds); // warm-up
  const feat = first.features;
  if (a.out) {
    const d = feat.data;
    fs.writeFileSync(a.out, Buffer.from(d.buffer, d.byteOffset, d.byteLength));
  }
  const dims = feat.dims.slice();
  first = null;
  const times = [];
  for (let r = 0; r < a.reps; r++) {
    const t = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t) / 1e9);
  }
  const best = Math.min(...times);
  const mean = times.reduce((x, y) => x + y, 0) / times.length;
  const rssMb = process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
  const line = {
    bench: 'ort_encode_image', engine: 'onnxruntime', version, mode: a.mode, size: a.size,
    tokens: dims[0], embed_dim: dims[1], reps: a.reps, best_s: +best.toFixed(6),
    mean_s: +mean.toFixed(6), threads: a.threads, inter_op_threads: 1,
    graph_optimization: 'all', session_create_s: +loadS.toFixed(3),
    peak_rss_mb: +rssMb.toFixed(1), model: path.basename(a.model),
    pixels: a.input ? 'file' : 'random(seed 1234)',
  };
  if (a.gflop > 0) {
    line.gflop = a.gflop;
    line.gflops = +(a.gflop / best).toFixed(1);
  }
  // "key": value with a space, like the other bench lines (bench/run.sh greps them)
  const text = Object.entries(line).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  process.stdout.write(`{${text.join(', ')}}\n`);
  await session.release();
}

main().catch((e) => die(e && e.stack ? e.stack : String(e)));
