/*
 * The container's PID 1: joins the instance's cgroups (so everything after, the app's
 * first instruction included, is charged and limited), builds the root filesystem, forks
 * the app, then reaps every orphan until the app ends and exits with the app's status.
 * Its exit ends every other process of the PID namespace.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "spec.h"

static void join_cgroups(const struct spec *s, int errfd) {
  for (int i = 0; i < s->ncgroups; i++) {
    int fd = open(s->cgroups[i], O_WRONLY | O_CLOEXEC);
    /* "0" names the writer itself, on v1 and v2 alike. */
    if (fd < 0 || write(fd, "0", 1) != 1) {
      char what[600];
      snprintf(what, sizeof what, "join cgroup %s", s->cgroups[i]);
      fail(errfd, 125, what);
    }
    close(fd);
  }
}

/* The OOM killer should pick the app, never the init that holds the container together. */
static void protect_from_oom(void) {
  int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)!write(fd, "-1000", 5);
  close(fd);
}

static int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

void run_init(const struct spec *s, int errfd) {
  join_cgroups(s, errfd);
  protect_from_oom();
  umask(0);
  char err[600];
  if (setup_rootfs(s, err, sizeof err) < 0) {
    (void)!write(errfd, err, strlen(err));
    _exit(125);
  }
  pid_t app = fork();
  if (app < 0) fail(errfd, 125, "fork app");
  if (app == 0) exec_app(s, errfd);
  close(errfd);
  int code = 255;
  for (;;) {
    int status;
    pid_t pid = wait(&status);
    if (pid == app) {
      code = exit_code(status);
      break;
    }
    if (pid < 0 && errno == ECHILD) break;
  }
  _exit(code);
}
