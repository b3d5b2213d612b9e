/** `avcurate status`: per step of a launched run, complete / running / failed / missing tasks. */
import type { CommandModule } from 'yargs';
import { UserError } from '../errors.js';

interface Args {
  config: string;
  set?: string[];
  json: boolean;
  missing?: string;
  wait?: string;
  timeout: number;
  interval: number;
  'fail-fast': boolean;
}

export const command: CommandModule<object, Args> = {
  command: 'status',
  describe: 'what each step of a launched run has done: complete, running, pending in the Slurm queue (squeue), failed (reason, log tail), missing',
  builder: (y) =>
    y
      .option('config', { alias: 'c', type: 'string', demandOption: true, describe: 'YAML config file of the run' })
      .option('set', { type: 'string', array: true, describe: 'override a config key (as given to launch)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the status as JSON' })
      .option('missing', { type: 'string', describe: 'print the failed + missing indices of STEP in sbatch --array syntax (empty line when none; tasks pending in the Slurm queue are neither)' })
      .option('wait', { type: 'string', describe: 'wait until STEP (or the last step of a stage) is complete; exit 0 then' })
      .option('timeout', { type: 'number', default: 0, describe: 'with --wait: give up after this many seconds (exit 5); 0 = never' })
      .option('interval', { type: 'number', default: 5, describe: 'with --wait: seconds between looks' })
      .option('fail-fast', { type: 'boolean', default: false, describe: 'with --wait: exit 1 when a task of the awaited steps failed and none is running' })
      .conflicts('missing', 'wait') as never,
  handler: async (a) => {
    const [{ loadConfig }, { readPlan, LaunchError }] = await Promise.all([import('../../config/load.js'), import('../../launch/plan.js')]);
    try {
      const config = loadConfig(a.config, a.set ?? []);
      const { runStatus, formatStatus, resolveStepName } = await import('../../launch/status.js');
      if (a.missing !== undefined || a.wait !== undefined) {
        const st0 = runStatus(config, Date.now(), { scheduler: true });
        const plan = readPlan(config.runDir!)!;
        const name = resolveStepName(plan, (a.missing ?? a.wait)!, a.wait !== undefined ? 'wait' : 'missing');
        if (a.missing !== undefined) {
          const s = st0.steps.find((x) => x.step === name)!;
          process.stdout.write(`${s.resubmit}\n`);
          return;
        }
        const upTo = plan.steps.findIndex((s) => s.name === name);
        const t0 = Date.now();
        let last = '';
        for (;;) {
          const st = runStatus(config, Date.now(), { scheduler: true });
          const relevant = st.steps.slice(0, upTo + 1);
          const target = relevant[relevant.length - 1];
          if (target.complete === target.tasks) {
            process.stdout.write(`${name}: complete (${target.tasks} task(s))\n`);
            return;
          }
          const line = relevant.map((s) => `${s.step} ${s.complete}/${s.tasks}${s.pending ? ` (${s.pending} pending)` : ''}${s.failed ? ` (${s.failed} failed)` : ''}`).join(', ');
          if (line !== last) {
            process.stderr.write(`status: waiting for ${name}: ${line}\n`);
            last = line;
          }
          if (a['fail-fast'] && relevant.some((s) => s.failed > 0) && relevant.every((s) => s.running === 0)) {
            process.stdout.write(formatStatus(st));
            throw new UserError(`${name} cannot complete: tasks failed (see above); resubmit with "avcurate launch slurm --config ${a.config} --resubmit-missing"`, 1);
          }
          if (a.timeout > 0 && (Date.now() - t0) / 1000 > a.timeout) throw new UserError(`${name} not complete after ${a.timeout} s (${line})`, 5);
          await new Promise((r) => setTimeout(r, Math.max(0.2, a.interval) * 1000));
        }
      }
      const st = runStatus(config, Date.now(), { scheduler: true });
      process.stdout.write(a.json ? JSON.stringify(st, null, 2) + '\n' : formatStatus(st));
    } catch (err) {
      if (err instanceof LaunchError) throw new UserError(err.message, err.exitCode);
      throw err;
    }
  },
};
