/*
 * dea-container, the per-instance supervising parent of the container backend.
 *
 * With --netns it first joins the instance's named network namespace, so the init and
 * the app are born in it, and when the init has exited it removes that network
 * (netclean.c) before recording the exit.
 *
 * It clones the container's init into new PID, mount, UTS and IPC namespaces, tells the
 * agent once on --status-fd whether the app was exec'd ("ok <init pid>") or why not
 * ("error <why>"), then waits for the init and records its exit status in
 * <run>/exit_status (128+N for signal N). It is started in a session of its own and
 * never joins the container's cgroups, so neither the agent's death nor an OOM kill in
 * the container takes it down, and an exit that happens while the agent is away is kept.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "spec.h"

#define NAMESPACES (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC)

void fail(int fd, int code, const char *what) {
  char msg[512];
  int n = snprintf(msg, sizeof msg, "%s: %s", what, strerror(errno));
  if (n > (int)sizeof msg - 1) n = (int)sizeof msg - 1;
  if (fd >= 0 && n > 0) (void)!write(fd, msg, (size_t)n);
  _exit(code);
}

/* Writes <dir>/<name> by rename, so a reader never sees half a record. */
static void record(const char *dir, const char *name, long value) {
  char tmp[4096], path[4096], text[32];
  snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  int n = snprintf(text, sizeof text, "%ld\n", value);
  (void)!write(fd, text, (size_t)n);
  close(fd);
  rename(tmp, path);
}

/* Everything the init or the app wrote to the error pipe; empty once the app exec'd. */
static ssize_t read_all(int fd, char *buf, size_t len) {
  size_t got = 0;
  while (got < len - 1) {
    ssize_t n = read(fd, buf + got, len - 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  buf[got] = '\0';
  return (ssize_t)got;
}

static void tell_agent(int fd, pid_t init, const char *error) {
  if (fd < 0) return;
  char line[640];
  int n = error[0] ? snprintf(line, sizeof line, "error %s\n", error)
                   : snprintf(line, sizeof line, "ok %d\n", (int)init);
  if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
  (void)!write(fd, line, (size_t)n);
  close(fd);
}

/*
 * Joins the instance's named network namespace before the clone, so the init and the
 * app are born in it: the app's first instruction already sees only its own network.
 * The supervisor itself never uses the network.
 */
static int join_netns(const char *path, int *host_netns, char *why, size_t len) {
  if (path == NULL) return 0;
  /* Kept to come back for the clean-up (clean_network): the rules live in the host's namespace. */
  *host_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
    snprintf(why, len, "join network namespace %s: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return 0;
}

static int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

int main(int argc, char **argv) {
  struct spec s;
  if (parse_spec(argc, argv, &s) < 0) return 2;
  /* The agent may be gone when we write to it; a dead pipe must not end us. */
  signal(SIGPIPE, SIG_IGN);
  if (s.status_fd >= 0) fcntl(s.status_fd, F_SETFD, FD_CLOEXEC);
  char why[600];
  int host_netns = -1;
  if (join_netns(s.netns, &host_netns, why, sizeof why) < 0) {
    tell_agent(s.status_fd, 0, why);
    return 125;
  }
  int errpipe[2];
  if (pipe2(errpipe, O_CLOEXEC) < 0) return 125;
  /* clone without a new stack behaves as fork, with the child born in new namespaces. */
  pid_t init = (pid_t)syscall(SYS_clone, NAMESPACES | SIGCHLD, NULL, NULL, NULL, NULL);
  if (init < 0) {
    snprintf(why, sizeof why, "clone namespaces: %s", strerror(errno));
    tell_agent(s.status_fd, 0, why);
    return 125;
  }
  if (init == 0) {
    close(errpipe[0]);
    if (s.status_fd >= 0) close(s.status_fd); /* only the supervisor answers the agent */
    if (host_netns >= 0) close(host_netns);   /* the container never holds the host's network */
    signal(SIGPIPE, SIG_DFL);
    run_init(&s, errpipe[1]);
  }
  close(errpipe[1]);
  record(s.run_dir, "init.pid", init);
  char error[512];
  read_all(errpipe[0], error, sizeof error);
  close(errpipe[0]);
  tell_agent(s.status_fd, init, error);
  int status = 0;
  while (waitpid(init, &status, 0) < 0) {
    if (errno != EINTR) return 255;
  }
  int code = exit_code(status);
  clean_network(&s, host_netns);
  record(s.run_dir, "exit_status", code);
  return code;
}
