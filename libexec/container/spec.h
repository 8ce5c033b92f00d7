/*
 * dea-container: starts one container instance for the agent and supervises it.
 * What the agent asks for, parsed from argv. Every value is a number, a fixed word or a
 * path the agent built from its own config and ids; nothing here comes from a message.
 */
#ifndef DEA_CONTAINER_SPEC_H
#define DEA_CONTAINER_SPEC_H

#include <sys/types.h>

#define MAX_LIST 16

struct spec {
  const char *run_dir;   /* agent-owned records: init.pid, exit_status; root/ is mounted here */
  const char *rootfs;    /* the stack's root filesystem, shown read-only */
  const char *home;      /* the instance directory, shown writable at /home/vcap */
  const char *hostname;  /* the instance id */
  const char *lxcfs;     /* LXCFS mount to bind /proc files from, or NULL */
  const char *mode;      /* v1: ./startup -p $PORT; v2: the start script with $DEA_START_COMMAND */
  const char *script;    /* v2 start script body (the agent's own, fixed text) */
  const char *netns;     /* a named network namespace to join before the clone, or NULL */
  const char *hosts;     /* a file bound read-only over /etc/hosts, or NULL */
  const char *resolv;    /* a file bound read-only over /etc/resolv.conf, or NULL */
  const char *net_table; /* the instance's nft table, deleted when the init has exited */
  const char *links[MAX_LIST];  /* host links of the instance, deleted then */
  int nlinks;
  const char *claims[MAX_LIST]; /* claim symlinks (→ the netns name), freed then */
  int nclaims;
  const char *cgroups[MAX_LIST]; /* cgroup.procs files to join before anything else */
  int ncgroups;
  const char *masks[MAX_LIST];   /* paths in the new root hidden under an empty read-only tmpfs */
  int nmasks;
  uid_t uid;
  gid_t gid;
  gid_t groups[MAX_LIST];
  int ngroups;
  long nofile;
  long fsize_kb;
  int status_fd;         /* where the supervisor says "ok <pid>" or "error <why>" once */
};

int parse_spec(int argc, char **argv, struct spec *s);

/* The container's init: joins the cgroups, builds the root, runs the app, reaps. */
void run_init(const struct spec *s, int errfd) __attribute__((noreturn));

/* Mounts the container's filesystem under <run_dir>/root and pivots into it. */
int setup_rootfs(const struct spec *s, char *err, size_t errlen);

/* In the app's process: drops to the instance user, applies limits, execs the start. */
void exec_app(const struct spec *s, int errfd) __attribute__((noreturn));

/* After the init: the instance's network goes (nft table, links, netns, claims). */
void clean_network(const struct spec *s, int host_netns);

/* Writes "<what>: <strerror(errno)>" to fd (the error pipe) and exits with code. */
void fail(int fd, int code, const char *what) __attribute__((noreturn));

#endif
