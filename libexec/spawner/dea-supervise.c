/*
 * dea-supervise: the process backend's per-instance supervising parent, in C. It does
 * what libexec/supervise.sh does, argument for argument, without a bash start, a subshell
 * and a setpriv exec before the app (about 3.5 ms of every start here):
 *
 *   dea-supervise RUN_DIR DIR NICE MEM_KB VMEM_KB FDS NPROC FSIZE_KB UID GID MODE
 *
 * It forks the app into a process group of its own; the child enters DIR, takes the
 * limits (RLIMIT_RSS, _AS, _NOFILE, _NPROC, _FSIZE), umask 077 and, unless UID is "-",
 * drops every group and becomes UID:GID, then execs `./startup -p $PORT` (MODE v1) or
 * `bash start.sh v2` from this program's directory (MODE v2). A limit that cannot be set
 * ends the app with 126 before it runs, as the shell's `ulimit ... || exit 126` does.
 * The parent records the app's pid in RUN_DIR/app.pid, waits, records its status in
 * RUN_DIR/exit_status (128+N for signal N), both by rename so a reader never sees half a
 * file, and exits with that status. It outlives the agent. Every argument is a number or
 * a fixed word chosen by the agent; the environment reaches the app as it is.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int parse_num(const char *s, long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 0) return -1;
  *out = v;
  return 0;
}

/* RUN_DIR/NAME holds `value`, written to NAME.tmp and renamed over. */
static void record(const char *run_dir, const char *name, long long value) {
  char path[PATH_MAX], tmp[PATH_MAX], text[32];
  snprintf(path, sizeof path, "%s/%s", run_dir, name);
  snprintf(tmp, sizeof tmp, "%s/%s.tmp", run_dir, name);
  int n = snprintf(text, sizeof text, "%lld\n", value);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return;
  ssize_t w = write(fd, text, (size_t)n);
  close(fd);
  if (w == n) rename(tmp, path);
}

static int limit(int resource, long long kb, int fatal) {
  struct rlimit rl = {(rlim_t)kb * 1024, (rlim_t)kb * 1024};
  if (resource == RLIMIT_NOFILE || resource == RLIMIT_NPROC) rl.rlim_cur = rl.rlim_max = (rlim_t)kb;
  if (setrlimit(resource, &rl) == 0 || !fatal) return 0;
  fprintf(stderr, "dea-supervise: limit %d: %s\n", resource, strerror(errno));
  return -1;
}

/* The app's side of the fork: never returns. */
static void run_app(char **argv, const char *here) {
  const char *dir = argv[2];
  long long nice_v, mem_kb, vmem_kb, fds, nproc, fsize_kb;
  parse_num(argv[3], &nice_v);
  parse_num(argv[4], &mem_kb);
  parse_num(argv[5], &vmem_kb);
  parse_num(argv[6], &fds);
  parse_num(argv[7], &nproc);
  parse_num(argv[8], &fsize_kb);
  signal(SIGINT, SIG_DFL);
  signal(SIGQUIT, SIG_DFL);
  if (setpgid(0, 0) < 0 || chdir(dir) < 0) _exit(126);
  if (nice_v != 0) setpriority(PRIO_PROCESS, 0, (int)nice_v);
  limit(RLIMIT_RSS, mem_kb, 0); /* advisory on Linux, as `ulimit -m` */
  if (limit(RLIMIT_AS, vmem_kb, 1) || limit(RLIMIT_NOFILE, fds, 1) || limit(RLIMIT_NPROC, nproc, 1) || limit(RLIMIT_FSIZE, fsize_kb, 1)) _exit(126);
  umask(077);
  if (strcmp(argv[9], "-") != 0) {
    long long uid, gid;
    if (parse_num(argv[9], &uid) || parse_num(argv[10], &gid)) _exit(126);
    if (setgroups(0, NULL) < 0 || setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0 || setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0) {
      fprintf(stderr, "dea-supervise: cannot become %lld:%lld: %s\n", uid, gid, strerror(errno));
      _exit(126);
    }
  }
  if (strcmp(argv[11], "v1") == 0) {
    const char *port = getenv("PORT");
    execl("./startup", "./startup", "-p", port ? port : "", (char *)NULL);
    fprintf(stderr, "dea-supervise: failed to execute ./startup: %s\n", strerror(errno));
  } else {
    char start[PATH_MAX + 16];
    snprintf(start, sizeof start, "%s/start.sh", here);
    execl("/bin/bash", "/bin/bash", start, "v2", (char *)NULL);
    fprintf(stderr, "dea-supervise: failed to execute start.sh: %s\n", strerror(errno));
  }
  _exit(126);
}

int main(int argc, char **argv) {
  if (argc != 12) {
    fprintf(stderr, "usage: dea-supervise RUN_DIR DIR NICE MEM_KB VMEM_KB FDS NPROC FSIZE_KB UID GID MODE\n");
    return 2;
  }
  long long n;
  for (int i = 3; i <= 8; i++)
    if (parse_num(argv[i], &n)) return 2;
  if (strcmp(argv[11], "v1") != 0 && strcmp(argv[11], "v2") != 0) return 2;
  char here[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", here, sizeof here - 1);
  if (len <= 0) return 2;
  here[len] = '\0';
  /* start.sh lives beside supervise.sh, one directory up from this program's. */
  for (int up = 0; up < 2; up++) {
    char *slash = strrchr(here, '/');
    if (slash == NULL) return 2;
    *slash = '\0';
  }
  const char *run_dir = argv[1];
  pid_t app = fork();
  if (app < 0) return 126;
  if (app == 0) run_app(argv, here);
  /* The app's group exists from its first instruction: no signal to it can miss. */
  setpgid(app, app);
  record(run_dir, "app.pid", app);
  int status;
  while (waitpid(app, &status, 0) < 0)
    if (errno != EINTR) return 126;
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  record(run_dir, "exit_status", code);
  return code;
}
