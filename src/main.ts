/**
 * run(): the runner glue. Reads the inputs, calls the shared publish entry (src/publish/), writes
 * the outputs and the summary; the one place that turns a failure into an error annotation.
 * Imported by tests without side effects.
 */
import { readFileSync } from 'node:fs';
import { ActionError, describeError, errorTitle } from './errors.ts';
import { type Inputs, getInputs } from './inputs.ts';
import { fail, getInput, log, setOutput, writeSummary } from './log.ts';
import { metadataOf, tagsAtDigest } from './metadata.ts';
import type { Reference } from './oci/reference.ts';
import { publishInputs } from './publish/index.ts';
import { PublishFailedError, type PublishResult } from './publish/result.ts';
import { renderFailure, renderSummary } from './summary.ts';

export async function run(): Promise<void> {
  // If the event loop ever drained with the run unfinished (a request that never settles), fail
  // with a clear line instead of Node's silent exit code 13.
  let finished = false;
  const onBeforeExit = () => {
    if (finished) return;
    finished = true;
    fail('the run stopped with work still pending (an internal error): nothing more was written', 'Publishing failed');
    process.exitCode = 1;
  };
  process.once('beforeExit', onBeforeExit);
  let inputs: Inputs | undefined;
  try {
    inputs = getInputs((name) => getInput(name));
    const result = await publishInputs(inputs);
    // The tags have moved: from here a failure must say so, and the summary is best effort.
    try {
      setOutputs(result, inputs.tags);
    } catch (e) {
      const at = [...result.pushed, ...result.unchanged];
      throw ActionError.outputs(`published ${result.digest}${at.length ? ` to ${at.join(', ')}` : ''}, but the step outputs could not be written (${describeError(e)})`, {
        hint: 'The tags point at the new index; steps that read this step’s outputs will not see them',
      });
    }
    const firstRequest = result.stats.firstRequestAt ? Math.round(result.stats.firstRequestAt - performance.timeOrigin) : undefined;
    log.info(
      `${result.dryRun ? 'dry run: would publish' : 'published'} ${result.digest} (${result.platforms.join(', ')}) in ${Math.round(performance.now())} ms; ` +
        `${result.stats.requests} requests, ${result.stats.retries} retries, ${result.stats.blobsMounted} blobs mounted, ${result.stats.blobsCopied} copied (${(result.stats.bytesCopied / 1048576).toFixed(1)} MiB); ` +
        `first request ${firstRequest ?? '-'} ms after start; peak RSS ${(peakRssKiB() / 1024).toFixed(1)} MiB`,
    );
    await writeSummary(renderSummary(result, inputs.tags.map(String))).catch((e: unknown) => {
      log.warning(`published ${result.digest}, but the job summary could not be written: ${describeError(e)}`);
    });
  } catch (e) {
    const line = describeError(e);
    const title = errorTitle(e);
    if (e instanceof PublishFailedError) {
      // What a failed run can still say: the index exists by digest in every target repository
      // once phase 1 completed (the outputs), and where every tag ended up (the summary).
      try {
        if (e.result && e.indexPlaced && inputs) setOutputs(e.result, inputs.tags);
        await writeSummary(renderFailure(e));
      } catch (reporting) {
        log.warning(`the outputs or the job summary of this failed run could not be written: ${describeError(reporting)}; the error below lists every tag`);
      }
    }
    // One annotation with a title (a line per tag under it); setFailed would add a second, untitled one.
    fail(line, title, e instanceof PublishFailedError ? e.lines : []);
    process.exitCode = 1;
  } finally {
    finished = true;
    process.removeListener('beforeExit', onBeforeExit);
  }
}

/** The step outputs of a result (also of a failed run whose index is in every repository). */
function setOutputs(result: PublishResult, tags: Reference[]): void {
  setOutput('digest', result.digest);
  setOutput('manifest', result.manifest, 'lines');
  setOutput('media-type', result.mediaType);
  setOutput('platforms', result.platforms.join(','));
  setOutput('images', result.images.join('\n'), 'lines');
  setOutput('platform-digests', JSON.stringify(result.platformDigests));
  setOutput('referrers', JSON.stringify(result.referrers));
  // The tags now at the digest, in the order given; none on a dry run.
  setOutput('tags', tagsAtDigest(result, tags).join('\n'), 'lines');
  setOutput('metadata', JSON.stringify(metadataOf(result, tags)));
}

/**
 * Peak resident memory of this process in KiB. Linux's VmHWM starts afresh at exec; getrusage's
 * maxrss does not, and would report the parent's size when a large process started this one.
 */
function peakRssKiB(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS;
}
