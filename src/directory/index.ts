/** The directory server (protocol §11.5): signed URLs to an instance's files and logs. */
export { createUrlSigner, URL_VALIDITY_MS, type UrlSigner, type Verdict } from './signer.js';
export { directoryRoutes, type DirectoryDeps, type DirectoryRoutes } from './routes.js';
export { createDirectory, type Directory } from './directory.js';
export { serverBase, signedFileUri, instanceResource } from './urls.js';
