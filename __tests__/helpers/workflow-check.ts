/**
 * Checks GitHub Actions YAML as a user would paste it: parsed as YAML, validated against SchemaStore's
 * workflow schema (vendored in __tests__/fixtures/schemas), and cross-checked against action.yml
 * (inputs given to this action, its outputs read by later steps, job outputs read through `needs`).
 * Pure: a YAML text and action.yml in, a list of one-line problems out.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { parse, stringify } from 'yaml';
import { projectRoot } from './action.ts';

const schemaDir = join(projectRoot, '__tests__/fixtures/schemas');
const readSchema = (file: string) => JSON.parse(readFileSync(join(schemaDir, file), 'utf8')) as { $id: string };
const workflowSchema = readSchema('github-workflow.json');
const actionSchema = readSchema('github-action.json');
const dependabotSchema = readSchema('dependabot-2.0.json');

// The schemas are draft-07, ajv's default. strict: false because SchemaStore uses keywords ajv
// does not know (markdownDescription and the like).
const ajv = new (Ajv as unknown as typeof Ajv.default)({ allErrors: true, strict: false });
ajv.addSchema(workflowSchema);
const validators = {
  workflow: ajv.getSchema(workflowSchema.$id)!,
  job: ajv.compile({ $ref: `${workflowSchema.$id}#/definitions/normalJob` }),
  steps: ajv.compile({ type: 'array', minItems: 1, items: { $ref: `${workflowSchema.$id}#/definitions/step` } }),
  action: ajv.compile(actionSchema),
  dependabot: ajv.compile(dependabotSchema),
};

export interface ActionMetadata {
  inputs: Record<string, { required?: boolean }>;
  outputs: Record<string, unknown>;
}

type Kind = 'workflow' | 'job' | 'steps';
type Obj = Record<string, unknown>;
interface Step extends Obj {
  id?: string;
  uses?: string;
  run?: string;
  with?: Obj;
}
interface Job extends Obj {
  needs?: string | string[];
  outputs?: Record<string, unknown>;
  steps?: Step[];
  strategy?: { matrix?: unknown };
  permissions?: unknown;
}

/** `uses:` values that mean this action. */
export const THIS_ACTION = /^(?:multiarch-manifest\/multiarch-manifest-action@\S+|\.\/?)$/;

/**
 * The oldest major of each docker/* action the examples may use: the majors current when this was
 * written (Node 24 runtimes, March 2026). Raise them when Docker ships new ones.
 */
export const DOCKER_ACTION_MAJORS: Record<string, number> = {
  'docker/login-action': 4,
  'docker/setup-buildx-action': 4,
  'docker/setup-qemu-action': 4,
  'docker/build-push-action': 7,
  'docker/metadata-action': 6,
};

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every string inside a value, with the path that leads to it. */
function strings(value: unknown, path: string, out: Array<[string, string]> = []): Array<[string, string]> {
  if (typeof value === 'string') out.push([path, value]);
  else if (Array.isArray(value)) value.forEach((v, i) => strings(v, `${path}[${i}]`, out));
  else if (isObj(value)) for (const [k, v] of Object.entries(value)) strings(v, path ? `${path}.${k}` : k, out);
  return out;
}

/** Whether a run script writes output `name` to $GITHUB_OUTPUT (`name=…` or `name<<DELIM`). */
const writesOutput = (script: string, name: string) =>
  /GITHUB_OUTPUT/.test(script) && new RegExp(`(^|[\\s"'{;])${name.replace(/[-]/g, '\\-')}(=|<<)`, 'm').test(script);

function schemaProblems(kind: keyof typeof validators, doc: unknown): string[] {
  const validate = validators[kind];
  if (validate(doc)) return [];
  // The workflow schema is built of oneOf/anyOf: report the deepest few paths, not every branch.
  const errors = [...(validate.errors ?? [])].sort((a, b) => b.instancePath.length - a.instancePath.length);
  const seen = new Set<string>();
  const out: string[] = [];
  for (const e of errors) {
    const line = `schema: ${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` '${e.params.additionalProperty}'` : ''}`;
    if (!seen.has(line)) out.push(line);
    seen.add(line);
    if (out.length === 3) break;
  }
  return out;
}

function checkJob(jobPath: string, job: Job, action: ActionMetadata, workflow: { jobs: Record<string, Job>; permissions?: unknown } | undefined): string[] {
  const problems: string[] = [];
  const steps = Array.isArray(job.steps) ? job.steps : [];
  const byId = new Map(steps.filter((s) => isObj(s) && typeof s.id === 'string').map((s) => [s.id as string, s]));

  steps.forEach((step, i) => {
    if (!isObj(step) || typeof step.uses !== 'string') return;
    const where = `${jobPath}steps[${i}]`;
    if (/\/multiarch-manifest-action@/.test(step.uses) && !THIS_ACTION.test(step.uses)) problems.push(`${where}: this action is multiarch-manifest/multiarch-manifest-action, not '${step.uses}'`);
    if (THIS_ACTION.test(step.uses)) {
      const given = isObj(step.with) ? Object.keys(step.with) : [];
      for (const key of given) if (!(key in action.inputs)) problems.push(`${where}: input '${key}' is not in action.yml`);
      for (const [name, input] of Object.entries(action.inputs)) {
        if (input.required && !given.includes(name)) problems.push(`${where}: required input '${name}' is missing`);
      }
    }
    const m = /^(docker\/[\w-]+)@v(\d+)/.exec(step.uses);
    const oldest = m ? DOCKER_ACTION_MAJORS[m[1] as string] : undefined;
    if (m && oldest !== undefined && Number(m[2]) < oldest) problems.push(`${where}: ${m[1]}@v${m[2]} is older than the current major v${oldest}`);
    if (/^docker\/build-push-action@/.test(step.uses) && !steps.slice(0, i).some((s) => isObj(s) && /^docker\/setup-buildx-action@/.test(String(s.uses)))) {
      problems.push(`${where}: docker/build-push-action without docker/setup-buildx-action before it (push-by-digest needs a buildx builder)`);
    }
  });

  const jobStrings = strings({ steps: job.steps, outputs: job.outputs, env: job.env }, jobPath.replace(/\.$/, ''));
  for (const [path, text] of jobStrings) {
    for (const [, id, name] of text.matchAll(/\bsteps\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)/g)) {
      const step = byId.get(id as string);
      if (!step) problems.push(`${path}: steps.${id}.outputs.${name}: no step with id '${id}' in this job`);
      else if (typeof step.uses === 'string' && THIS_ACTION.test(step.uses) && !((name as string) in action.outputs)) {
        problems.push(`${path}: steps.${id}.outputs.${name}: action.yml has no output '${name}'`);
      } else if (typeof step.run === 'string' && !writesOutput(step.run, name as string)) {
        problems.push(`${path}: steps.${id}.outputs.${name}: step '${id}' does not write '${name}' to $GITHUB_OUTPUT`);
      }
    }
    for (const [, jobId, name] of text.matchAll(/\bneeds\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)/g)) {
      const needs = job.needs === undefined ? [] : ([] as string[]).concat(job.needs);
      const producer = workflow?.jobs[jobId as string];
      if (!workflow) problems.push(`${path}: needs.${jobId}.outputs.${name}: a snippet without its jobs cannot be checked; show the whole workflow`);
      else if (!needs.includes(jobId as string)) problems.push(`${path}: needs.${jobId}.outputs.${name}: '${jobId}' is not in this job's needs`);
      else if (!producer || !isObj(producer.outputs) || !((name as string) in producer.outputs)) {
        problems.push(`${path}: needs.${jobId}.outputs.${name}: job '${jobId}' defines no output '${name}'`);
      }
    }
    if (/ghcr\.io\/\$\{\{\s*github\.(repository|repository_owner|actor)\b/.test(text) || /ghcr\.io\/[^\s$'"]*[A-Z]/.test(text)) {
      problems.push(`${path}: GHCR image names must be lowercase, and github.repository/repository_owner/actor may not be`);
    }
  }

  if (job.strategy?.matrix !== undefined && job.outputs !== undefined) {
    problems.push(`${jobPath.replace(/\.$/, '')}: a matrix job's outputs hold whichever leg finished last; hand per-leg values over as artifacts`);
  }
  if (workflow) {
    const logsInToGhcr = steps.some((s) => isObj(s) && /^docker\/login-action@/.test(String(s.uses)) && isObj(s.with) && s.with.registry === 'ghcr.io');
    const permissions = job.permissions ?? workflow.permissions;
    if (logsInToGhcr && permissions !== 'write-all' && !(isObj(permissions) && permissions.packages === 'write')) {
      problems.push(`${jobPath.replace(/\.$/, '')}: logs in to ghcr.io with GITHUB_TOKEN but does not grant 'packages: write'`);
    }
  }
  return problems;
}

/** What a YAML document is: a workflow (has `jobs`), a job (`runs-on`/`steps`), or a step list. */
export function kindOf(doc: unknown): Kind | undefined {
  if (Array.isArray(doc)) return 'steps';
  if (isObj(doc) && 'jobs' in doc) return 'workflow';
  if (isObj(doc) && ('runs-on' in doc || 'steps' in doc)) return 'job';
  return undefined;
}

/** Every problem of one YAML text; empty when a user can paste it as it is. */
export function checkYaml(text: string, action: ActionMetadata): string[] {
  let doc: unknown;
  try {
    doc = parse(text, { strict: true, uniqueKeys: true });
  } catch (e) {
    return [`yaml: ${(e as Error).message.split('\n')[0]}`];
  }
  const kind = kindOf(doc);
  if (!kind) return ['not a workflow, a job or a list of steps'];
  const problems = schemaProblems(kind, doc);
  if (kind === 'steps') problems.push(...checkJob('', { steps: doc as Step[] }, action, undefined));
  if (kind === 'job') problems.push(...checkJob('', doc as Job, action, undefined));
  if (kind === 'workflow') {
    const workflow = doc as { jobs: Record<string, Job>; permissions?: unknown };
    for (const [id, job] of Object.entries(isObj(workflow.jobs) ? workflow.jobs : {})) {
      if (isObj(job)) problems.push(...checkJob(`jobs.${id}.`, job as Job, action, workflow));
    }
  }
  return problems;
}

/** Problems of action.yml against SchemaStore's github-action schema. */
export function checkActionYml(doc: unknown): string[] {
  return schemaProblems('action', doc);
}

/** Problems of .github/dependabot.yml against SchemaStore's dependabot-2.0 schema. */
export function checkDependabotYml(doc: unknown): string[] {
  return schemaProblems('dependabot', doc);
}

export interface YamlBlock {
  file: string;
  line: number;
  text: string;
}

/** The fenced ```yaml / ```yml blocks of a Markdown text, with the line each starts on. */
export function yamlBlocks(markdown: string, file: string): YamlBlock[] {
  const blocks: YamlBlock[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*ya?ml\b/.exec(lines[i] as string);
    if (!open) continue;
    const [, indent, fence] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !(lines[j] as string).trimStart().startsWith(fence as string); j++) body.push((lines[j] as string).slice((indent as string).length));
    blocks.push({ file, line: i + 1, text: body.join('\n') });
    i = j;
  }
  return blocks;
}

/** A snippet as a whole workflow (a step list or a job in a one-job workflow), for linters that want one. */
export function asWorkflow(text: string): string {
  const doc = parse(text) as unknown;
  const kind = kindOf(doc);
  if (kind === 'workflow') return text;
  const job = kind === 'steps' ? { 'runs-on': 'ubuntu-24.04', steps: doc } : doc;
  return stringify({ on: 'push', permissions: { contents: 'read' }, jobs: { snippet: job } });
}
