/*
 * The app's own process: a session of its own, the instance's limits, the instance's
 * unprivileged uid (every capability goes with root), no way back up (no_new_privs),
 * then the start command, exactly as the process backend runs it: v1 `./startup -p
 * $PORT` in /home/vcap, v2 the agent's start script (sources the .profile.d scripts, then
 * `bash -c "$DEA_START_COMMAND"` in app/). The environment is the agent's, untouched.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "spec.h"

extern char **environ;

static void set_limit(int errfd, int resource, rlim_t value, const char *what) {
  struct rlimit rl = {value, value};
  if (setrlimit(resource, &rl) < 0) fail(errfd, 126, what);
}

static void reset_signals(void) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
}

static void unprotect_from_oom(void) {
  int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)!write(fd, "0", 1);
  close(fd);
}

void exec_app(const struct spec *s, int errfd) {
  reset_signals();
  unprotect_from_oom();
  setsid();
  if (s->nofile > 0) set_limit(errfd, RLIMIT_NOFILE, (rlim_t)s->nofile, "limit open files");
  if (s->fsize_kb > 0) set_limit(errfd, RLIMIT_FSIZE, (rlim_t)s->fsize_kb * 1024, "limit file size");
  set_limit(errfd, RLIMIT_CORE, 0, "limit core size");
  if (setgroups((size_t)s->ngroups, s->groups) < 0) fail(errfd, 126, "setgroups");
  if (setgid(s->gid) < 0) fail(errfd, 126, "setgid");
  if (setuid(s->uid) < 0) fail(errfd, 126, "setuid");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(errfd, 126, "no_new_privs");
  umask(077);
  if (chdir("/home/vcap") < 0) fail(errfd, 126, "chdir /home/vcap");
  if (strcmp(s->mode, "v1") == 0) {
    const char *port = getenv("PORT");
    char *const argv[] = {"./startup", "-p", (char *)(port ? port : ""), NULL};
    execve("./startup", argv, environ);
    if (errno == ENOEXEC) { /* no #! line: run it as bash would */
      char *const sh[] = {"bash", "./startup", "-p", (char *)(port ? port : ""), NULL};
      execve("/bin/bash", sh, environ);
    }
    fail(errfd, 127, "exec ./startup");
  }
  char *const argv[] = {"bash", "-c", (char *)s->script, "start.sh", "v2", NULL};
  execve("/bin/bash", argv, environ);
  fail(errfd, 127, "exec /bin/bash");
}
