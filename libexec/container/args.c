/* argv → struct spec. Unknown or malformed arguments are refused: the agent built them. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "spec.h"

enum { O_RUN = 1, O_ROOT, O_HOME, O_HOSTNAME, O_LXCFS, O_MODE, O_SCRIPT, O_CGROUP, O_MASK,
       O_UID, O_GID, O_GROUP, O_NOFILE, O_FSIZE, O_STATUS_FD, O_NETNS, O_HOSTS, O_RESOLV, O_NET_TABLE, O_NET_LINK, O_NET_CLAIM };

static const struct option options[] = {
  {"run", required_argument, 0, O_RUN},         {"root", required_argument, 0, O_ROOT},
  {"home", required_argument, 0, O_HOME},       {"hostname", required_argument, 0, O_HOSTNAME},
  {"lxcfs", required_argument, 0, O_LXCFS},     {"mode", required_argument, 0, O_MODE},
  {"script", required_argument, 0, O_SCRIPT},   {"cgroup", required_argument, 0, O_CGROUP},
  {"mask", required_argument, 0, O_MASK},       {"uid", required_argument, 0, O_UID},
  {"gid", required_argument, 0, O_GID},         {"group", required_argument, 0, O_GROUP},
  {"nofile", required_argument, 0, O_NOFILE},   {"fsize-kb", required_argument, 0, O_FSIZE},
  {"status-fd", required_argument, 0, O_STATUS_FD}, {"netns", required_argument, 0, O_NETNS},
  {"hosts", required_argument, 0, O_HOSTS},     {"resolv", required_argument, 0, O_RESOLV},
  {"net-table", required_argument, 0, O_NET_TABLE}, {"net-link", required_argument, 0, O_NET_LINK},
  {"net-claim", required_argument, 0, O_NET_CLAIM},
  {0, 0, 0, 0},
};

static int number(const char *text, long *out) {
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno != 0 || *end != '\0' || end == text || v < 0) return -1;
  *out = v;
  return 0;
}

static int push(const char **list, int *n, const char *value) {
  if (*n >= MAX_LIST) return -1;
  list[(*n)++] = value;
  return 0;
}

static int apply(struct spec *s, int opt, const char *arg) {
  long v = 0;
  switch (opt) {
    case O_RUN: s->run_dir = arg; return 0;
    case O_ROOT: s->rootfs = arg; return 0;
    case O_HOME: s->home = arg; return 0;
    case O_HOSTNAME: s->hostname = arg; return 0;
    case O_LXCFS: s->lxcfs = arg; return 0;
    case O_MODE: s->mode = arg; return 0;
    case O_SCRIPT: s->script = arg; return 0;
    case O_NETNS: s->netns = arg; return 0;
    case O_HOSTS: s->hosts = arg; return 0;
    case O_RESOLV: s->resolv = arg; return 0;
    case O_NET_TABLE: s->net_table = arg; return 0;
    case O_NET_LINK: return push(s->links, &s->nlinks, arg);
    case O_NET_CLAIM: return push(s->claims, &s->nclaims, arg);
    case O_CGROUP: return push(s->cgroups, &s->ncgroups, arg);
    case O_MASK: return push(s->masks, &s->nmasks, arg);
    case O_GROUP:
      if (number(arg, &v) < 0 || s->ngroups >= MAX_LIST) return -1;
      s->groups[s->ngroups++] = (gid_t)v;
      return 0;
  }
  if (number(arg, &v) < 0) return -1;
  switch (opt) {
    case O_UID: s->uid = (uid_t)v; return 0;
    case O_GID: s->gid = (gid_t)v; return 0;
    case O_NOFILE: s->nofile = v; return 0;
    case O_FSIZE: s->fsize_kb = v; return 0;
    case O_STATUS_FD: s->status_fd = (int)v; return 0;
  }
  return -1;
}

int parse_spec(int argc, char **argv, struct spec *s) {
  memset(s, 0, sizeof *s);
  s->status_fd = -1;
  s->uid = (uid_t)-1;
  s->gid = (gid_t)-1;
  int opt;
  while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
    if (opt == '?' || apply(s, opt, optarg) < 0) {
      fprintf(stderr, "dea-container: bad argument %s\n", argv[optind - 1]);
      return -1;
    }
  }
  int v2 = s->mode != NULL && strcmp(s->mode, "v2") == 0;
  int v1 = s->mode != NULL && strcmp(s->mode, "v1") == 0;
  if (optind != argc || !s->run_dir || !s->rootfs || !s->home || !s->hostname || !(v1 || v2) ||
      (v2 && !s->script) || strlen(s->run_dir) > 1024 || s->uid == (uid_t)-1 || s->gid == (gid_t)-1 || s->uid == 0) {
    fprintf(stderr, "dea-container: missing or invalid arguments\n");
    return -1;
  }
  return 0;
}
