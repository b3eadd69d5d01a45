/**
 * The OCI image-spec JSON schemas (draft-04) from __tests__/fixtures/conformance/oci-schema, registered
 * under every alias URL the upstream validator uses, plus the three checks upstream makes outside
 * the schemas (go-digest validation, padded base64 `data`, `Env` entries with '=').
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv04 from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import { parseDigest } from '../../src/oci/digest.ts';
import { conformanceDir } from './conformance.ts';

function isDigest(value: string): boolean {
  try {
    parseDigest(value);
    return true;
  } catch {
    return false;
  }
}

const dir = join(conformanceDir, 'oci-schema');
const aliases = JSON.parse(readFileSync(join(dir, 'schema-aliases.json'), 'utf8')) as {
  aliases: Record<string, string[]>;
  validatorMediaTypeToSchema: Record<string, string>;
};

function stripIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripIds);
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).filter(([k, v]) => !(k === 'id' && typeof v === 'string')).map(([k, v]) => [k, stripIds(v)]));
  }
  return node;
}

const ajv = new (Ajv04 as unknown as typeof Ajv04.default)({ allErrors: true, strict: false, validateFormats: true });
(addFormats as unknown as typeof addFormats.default)(ajv);
for (const [file, urls] of Object.entries(aliases.aliases)) {
  let schema: Record<string, unknown>;
  try {
    schema = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  } catch {
    continue; // image-layout-schema.json is not among the copied schemas
  }
  // Nested `id`s would be registered once per alias and collide; every alias directory is
  // registered below, so relative refs still resolve once they are dropped.
  const withoutId = stripIds(schema) as Record<string, unknown>;
  for (const url of urls) ajv.addSchema({ ...withoutId, id: url });
}

function descriptors(doc: any): any[] {
  const out: any[] = [];
  const visit = (d: any) => {
    if (d && typeof d === 'object' && typeof d.digest === 'string') out.push(d);
  };
  visit(doc);
  visit(doc?.config);
  visit(doc?.subject);
  for (const d of doc?.manifests ?? []) visit(d);
  for (const d of doc?.layers ?? []) visit(d);
  return out;
}

/** Validates a document for a media type; returns the list of problems (empty when valid). */
export function validateOci(mediaType: string, document: string | unknown): string[] {
  const file = aliases.validatorMediaTypeToSchema[mediaType];
  if (!file) throw new Error(`no schema for ${mediaType}`);
  const url = (aliases.aliases[file] as string[])[0] as string;
  let doc: any;
  try {
    doc = typeof document === 'string' ? JSON.parse(document) : document;
  } catch (e) {
    return [`not JSON: ${(e as Error).message}`];
  }
  const validate = ajv.getSchema(url);
  if (!validate) throw new Error(`schema ${url} not registered`);
  const problems: string[] = [];
  if (!validate(doc)) problems.push(...(validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`));
  for (const d of descriptors(doc)) {
    const alg = d.digest.slice(0, d.digest.indexOf(':'));
    if ((alg === 'sha256' || alg === 'sha512') && !isDigest(d.digest)) problems.push(`digest ${d.digest} is not valid`);
    if (typeof d.data === 'string' && d.data.length % 4 !== 0) problems.push('data is not padded base64');
  }
  if (Array.isArray(doc?.config?.Env)) {
    for (const e of doc.config.Env) if (typeof e === 'string' && !e.includes('=')) problems.push(`Env entry '${e}' has no '='`);
  }
  return problems;
}
