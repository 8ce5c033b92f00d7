export { ContainerBackend, type ContainerBackendOptions } from './container-backend.js';
export { detectCgroupHost, containerCapable, type CgroupHost } from './cgroup-host.js';
export { prepareCgroupRoot } from './cgroups.js';
export { UidPool, passwdUids } from './uid-pool.js';
export { createContainerBackend, lxcfsMounted, hidden, type ContainerSetup, type ContainerChoice } from './create.js';
