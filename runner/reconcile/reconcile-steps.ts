// A reconciler is an ordered table of named, idempotent steps. Each decides from what it observes
// and answers one of: go on to the next step, stop and look again later, or stop.

export type StepResult =
  { readonly next: 'continue' } | { readonly next: 'requeue'; readonly afterMs: number } | { readonly next: 'done' };

export const CONTINUE: StepResult = { next: 'continue' };
export const DONE: StepResult = { next: 'done' };

export function requeue(afterMs: number): StepResult {
  return { next: 'requeue', afterMs };
}

export interface Step<C> {
  readonly name: string;
  run(context: C): Promise<StepResult>;
}

export interface StepOutcome {
  /** The step that ended the pass (or the last one). */
  readonly step: string;
  readonly result: StepResult;
}

/** Runs the steps in order until one does not continue; errors propagate (the queue retries). */
export async function runSteps<C>(steps: readonly Step<C>[], context: C): Promise<StepOutcome> {
  let last = '';
  for (const step of steps) {
    last = step.name;
    let result: StepResult;
    try {
      result = await step.run(context);
    } catch (err) {
      if (err instanceof Error) err.message = `step ${step.name}: ${err.message}`;
      throw err;
    }
    if (result.next !== 'continue') return { step: step.name, result };
  }
  return { step: last, result: DONE };
}
