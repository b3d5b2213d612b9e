/**
 * What every experiment stage receives: the config, the run folder, the stage ledger (a stage that
 * finished with the same inputs is skipped on a rerun), and the notes that end up in results.json.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import type { StageLedger } from '../run/ledger.js';
import type { LabelledClip } from './arms.js';

export interface ExperimentContext {
  config: Config;
  /** Absolute run folder. */
  runDir: string;
  /** <runDir>/experiment: pool/held-out lists, arm sets, jobs. */
  expDir: string;
  ledger: StageLedger;
  silent: boolean;
  /** Notes for results.json (skipped tasks, undecodable clips, short arms). */
  notes: string[];
}

/** The rows of a JSONL file of labelled clips (labels.jsonl, pool.jsonl, heldout.jsonl). */
export function readRows(file: string): LabelledClip[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      try {
        return JSON.parse(l) as LabelledClip;
      } catch (err) {
        throw new Error(`${file}:${i + 1}: not valid JSON (${(err as Error).message})`);
      }
    });
}
