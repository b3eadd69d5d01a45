/**
 * The command line's help texts and argument parsing. A usage error (unknown command or option, a
 * missing value or argument) exits 2, as crane, regctl and most POSIX tools do; a failed run exits 1.
 */

export const MAIN_USAGE = `multiarch-manifest: publish and inspect multi-platform images over the registry API

Usage:
  multiarch-manifest publish --source REF [--source REF …] --tag REF [--tag REF …] [options]
  multiarch-manifest inspect REF [options]
  multiarch-manifest help [COMMAND]      (or COMMAND --help)
  multiarch-manifest --version

Exit status: 0 done, 1 the run failed (one line on stderr says why), 2 usage error.`;

export const PUBLISH_USAGE = `Usage: multiarch-manifest publish --source REF [--source REF …] --tag REF [--tag REF …] [options]

Reads every source, assembles one Docker manifest list or OCI image index, places every child in
every target repository, then pushes the index to every tag. The options mirror the action's inputs.

Options:
  --source REF            per-architecture image (repeat); overrides may follow: "REF platform=linux/arm/v7";
                          oci-layout://DIR[:TAG|@DIGEST] reads an OCI image layout
  --source-file PATH      file or glob adding sources (repeat; digest-named files, build metadata JSON, lists)
  --source-file-repository GLOB  another repository files may name (repeat; default: the tags' and sources')
  --platforms P,…         platforms the result keeps (index sources filtered, other images refused);
                          {os}/{arch}/{variant} template sources expand over them
  --ignore-missing        leave out sources that do not exist (a warning each)
  --tag REF               target tag (repeat)
  --dry-run               verify the sources and assemble the index, write nothing (same as --push=false)
  --push=BOOL             true (default) or false
  --media-type TYPE       auto | oci | docker
  --attestations MODE     keep | drop | referrers (attached to their images instead of index entries)
  --referrers MODE        copy (default: signatures, SBOMs and other referrers travel with the images) | skip
  --annotation K=V        annotation line as buildx takes it (repeat; unprefixed and index: lines
                          annotate the index, manifest-descriptor: lines every entry,
                          manifest-descriptor[linux/arm64]: that platform's entries)
  --require-platform P    platform the result must contain (repeat)
  --append                start from the index at the first tag
  --overwrite=BOOL        true (default) or false: fail, before any write, when a tag exists at
                          another digest
  --registry HOST         registry the username and password are for (default: the first tag's)
  --username USER         with --password-stdin, or MULTIARCH_PASSWORD in the environment
  --password-stdin        read the password from standard input
  --insecure-registry H   allow plain HTTP / unverified TLS for H (repeat)
  --retries N  --retry-max-seconds S  --timeout S  --concurrency N
  --json                  print the result as one JSON object (README: Command line)
  --metadata-file PATH    write the action's metadata output (JSON: containerimage.digest, …) to PATH
  --debug                 request-level logs on stderr
  -h, --help              this help

Prints "published DIGEST" when it wrote something, "unchanged DIGEST" when every tag already
pointed at the digest and nothing was written, "would publish DIGEST" on a dry run.`;

export const INSPECT_USAGE = `Usage: multiarch-manifest inspect REF [options]

Shows an image index's entries (platform, digest, size, media type), or a single image's platform,
config and layers.

Options:
  -v, --verbose           also read each entry's manifest and list its layers
  --platform P            an index: show the entry a host of platform P pulls (containerd's rules);
                          a single image: check that it runs on P, exit 1 when it does not
  --insecure-registry H   allow plain HTTP / unverified TLS for H (repeat)
  --json                  print one JSON object (the same shape with or without --verbose/--platform)
  --debug                 request-level logs on stderr
  -h, --help              this help`;

/** A command line that cannot be run as given: exit 2, with a pointer to the right help. */
export class UsageError extends Error {
  readonly command: 'publish' | 'inspect' | undefined;

  constructor(message: string, command?: 'publish' | 'inspect') {
    super(message);
    this.command = command;
  }

  get hint(): string {
    return `Run 'multiarch-manifest ${this.command ? `${this.command} --help` : '--help'}' for usage.`;
  }
}

/** Runs a node:util parseArgs call, turning its errors (unknown option, missing value, stray argument) into usage errors. */
export function parsingUsage<R>(command: 'publish' | 'inspect', parse: () => R): R {
  try {
    return parse();
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) throw new UsageError((e as Error).message.split('\n')[0] as string, command);
    throw e;
  }
}
