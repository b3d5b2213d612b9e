import type { CommandModule } from 'yargs';

interface Args {
  json: boolean;
}

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** A warning: printed as WARN, never fatal. */
  warn?: boolean;
}

async function mediaChecks(): Promise<Check[]> {
  const out: Check[] = [];
  let ffmpeg: typeof import('../../media/ffmpeg.js') | null = null;
  try {
    ffmpeg = await import('../../media/ffmpeg.js');
  } catch (err) {
    return [{ name: 'ffmpeg', ok: false, detail: `media layer unavailable: ${(err as Error).message}` }];
  }
  for (const tool of ['ffmpeg', 'ffprobe'] as const) {
    try {
      const loc = tool === 'ffmpeg' ? ffmpeg.ffmpegLocation() : ffmpeg.ffprobeLocation();
      const others = (loc.others ?? []).map((o) => `; also ${o.path} (${o.source}): ${o.version}`).join('');
      out.push({ name: tool, ok: true, detail: `${loc.path} (${loc.source}): ${ffmpeg.toolVersion(tool)}${others}` });
      const age = ffmpeg.toolAgeWarning(tool);
      if (age) out.push({ name: `${tool} age`, ok: false, warn: true, detail: age });
    } catch (err) {
      out.push({ name: tool, ok: false, detail: (err as Error).message });
    }
  }
  return out;
}

async function onnxCheck(): Promise<Check> {
  const { tryLoadOnnxRuntime, onnxRuntimeError, onnxRuntimeVersion } = await import('../../runtime/onnx.js');
  if (!(await tryLoadOnnxRuntime())) return { name: 'onnxruntime-node', ok: false, detail: `failed to load: ${onnxRuntimeError()}` };
  return { name: 'onnxruntime-node', ok: true, detail: `${onnxRuntimeVersion() ?? 'unknown version'} (execution providers below)` };
}

export const command: CommandModule<object, Args> = {
  command: 'doctor',
  describe: 'check the environment: ffmpeg/ffprobe, onnxruntime, TensorFlow.js backends (and why any is missing)',
  builder: (y) => y.option('json', { type: 'boolean', default: false, describe: 'print the checks as JSON' }) as never,
  handler: async (a) => {
    const checks: Check[] = [];
    checks.push({ name: 'node', ok: true, detail: `${process.version} on ${process.platform}-${process.arch}` });
    checks.push(...(await mediaChecks()));
    checks.push(await onnxCheck());
    const { listExecutionProviders } = await import('../../runtime/onnx.js');
    for (const p of await listExecutionProviders()) checks.push({ name: `onnxruntime ${p.name}`, ok: p.available, detail: p.detail });
    const { probeTfjsBackends, initTfjs } = await import('../../runtime/tfjs.js');
    let chosen = 'none';
    try {
      chosen = (await initTfjs('auto')).choice;
    } catch (err) {
      chosen = `none: ${(err as Error).message}`;
    }
    const backends = await probeTfjsBackends();
    for (const b of backends) {
      checks.push({ name: `tfjs ${b.choice}`, ok: b.available, detail: b.available ? `${b.package}${b.version ? ' ' + b.version : ''}${b.reason ? ` (${b.reason})` : ''}` : b.reason ?? 'unavailable' });
    }
    checks.push({ name: 'tfjs auto choice', ok: chosen !== 'none' && !chosen.startsWith('none'), detail: chosen });
    if (a.json) {
      process.stdout.write(JSON.stringify({ checks }, null, 2) + '\n');
    } else {
      const width = Math.max(...checks.map((c) => c.name.length));
      for (const c of checks) process.stdout.write(`${c.ok ? 'ok  ' : c.warn ? 'WARN' : 'MISS'}  ${c.name.padEnd(width)}  ${c.detail}\n`);
    }
    // Only a missing ffmpeg or no tfjs backend at all makes the environment unusable.
    const fatal = checks.some((c) => !c.ok && (c.name === 'ffmpeg' || c.name === 'ffprobe' || c.name === 'tfjs auto choice'));
    if (fatal) process.exitCode = 1;
  },
};
