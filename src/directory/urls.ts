/**
 * The shape of `file_uri_v2` (protocol §11.5):
 * `http://<local_ip>:<status port>/instance_paths/<instance id>?hmac=…&path=…&timestamp=…`.
 */
import type { UrlSigner } from './signer.js';

export const RESOURCE_PREFIX = '/instance_paths/';
const RESOURCE = /^\/instance_paths\/([0-9a-f]{32})$/;

export function instanceResource(instanceId: string): string {
  return `${RESOURCE_PREFIX}${instanceId}`;
}

/** The instance id a resource path names, or null when it names none. */
export function instanceIdOf(resource: string): string | null {
  return RESOURCE.exec(resource)?.[1] ?? null;
}

/** `http://host:port`, with an IPv6 address in brackets. */
export function serverBase(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** A signed URL for `path` (null: the instance's root, as cloud_controller_ng sends it). */
export function signedFileUri(signer: UrlSigner, base: string, instanceId: string, path: string | null): string {
  const resource = instanceResource(instanceId);
  return `${base}${resource}?${signer.sign(resource, path ?? '/')}`;
}
