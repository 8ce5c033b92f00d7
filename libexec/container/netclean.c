/*
 * The instance's network ends with the instance: once the init has exited, the supervisor
 * (back in the host's network namespace) deletes the instance's nft table and its other
 * host links (the ifb), unmounts and unlinks the named namespace (which takes the veth
 * pair with it) and frees its claims, before it records the exit. So an app that ends
 * while no agent runs, or whose agent was killed for good, leaves nothing behind. The
 * agent's own clean-up after it finds nothing left to do. Every name came from the agent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>
#include "spec.h"

static const char *const SBIN[] = {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"};

/* Runs a system tool by absolute path (the app's PATH has no sbin), quietly, and waits. */
static void run_tool(const char *tool, char *const argv[]) {
  pid_t pid = fork();
  if (pid < 0) return;
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) { dup2(null, 1); dup2(null, 2); }
    char path[PATH_MAX];
    for (size_t i = 0; i < sizeof SBIN / sizeof SBIN[0]; i++) {
      strcpy(path, SBIN[i]);
      strcat(path, tool);
      execv(path, argv);
    }
    _exit(127);
  }
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
}

/* Frees a claim (a symlink to the namespace's name) only while it is still this instance's. */
static void free_claim(const char *claim, const char *owner) {
  char target[256];
  ssize_t n = readlink(claim, target, sizeof target - 1);
  if (n < 0) return;
  target[n] = '\0';
  if (strcmp(target, owner) == 0) unlink(claim);
}

void clean_network(const struct spec *s, int host_netns) {
  if (s->netns == NULL || host_netns < 0) return;
  /*
   * Only once the agent has finished setting the network up (it writes net-ready then):
   * an app that ends at once must not race the agent's rules, which would then outlive
   * it. Before that point, the agent is alive and removes the network itself.
   */
  char ready[4096];
  int n = snprintf(ready, sizeof ready, "%s/net-ready", s->run_dir);
  if (n < 0 || (size_t)n >= sizeof ready || access(ready, F_OK) < 0) return;
  if (setns(host_netns, CLONE_NEWNET) < 0) return; /* never act on the wrong namespace's rules */
  if (s->net_table) {
    char *argv[] = {"nft", "delete", "table", "ip", (char *)s->net_table, NULL};
    run_tool("nft", argv);
  }
  for (int i = 0; i < s->nlinks; i++) {
    char *argv[] = {"ip", "link", "delete", "dev", (char *)s->links[i], NULL};
    run_tool("ip", argv);
  }
  umount2(s->netns, MNT_DETACH);
  unlink(s->netns);
  const char *owner = strrchr(s->netns, '/');
  owner = owner ? owner + 1 : s->netns;
  for (int i = 0; i < s->nclaims; i++) free_claim(s->claims[i], owner);
}
