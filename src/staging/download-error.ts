import { AgentError, ErrorCodes } from '../errors.js';

/**
 * A URI fit for logs and error messages: credentials become `***` and the query string
 * and fragment are dropped (signed blobstore URLs carry their signature there).
 */
export function scrubUri(uri: string): string {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return '<invalid uri>';
  }
  const auth = url.username || url.password ? '***@' : '';
  return `${url.protocol}//${auth}${url.host}${url.pathname}`;
}

/** dea_ng's wording, with the URI scrubbed: the message reaches logs and peers. */
export function downloadError(uri: string, why: string, cause?: unknown): AgentError {
  return new AgentError(ErrorCodes.DROPLET_DOWNLOAD_FAILED, `Error downloading: ${scrubUri(uri)}: ${why}`, { cause });
}

/** The errno-style `code` of a thrown value (ENOENT, EXDEV, an AgentError's code), if any. */
export function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}
