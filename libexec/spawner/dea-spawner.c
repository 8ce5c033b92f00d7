/*
 * dea-spawner: the agent's long-lived helper for the two system calls a start needs and
 * Node cannot make cheaply, mount(2) of an instance's overlay view and fork+exec of its
 * supervisor. A fork of the agent copies the page tables of a ~100 MB process (3-5 ms
 * here, and /bin/mount then parses the mount table); a fork of this helper is a fraction
 * of a millisecond and mount(2) needs no fork at all.
 *
 * Protocol on stdin/stdout, both directions framed the same way: a 4-byte little-endian
 * body length, then the body, a list of NUL-terminated fields. A request's first field is
 * its id (chosen by the agent, never "0"), the second its operation:
 *   id mount SOURCE FSTYPE TARGET DATA        mount(2) with no flags
 *   id umount TARGET LAZY                     umount2(2); LAZY "1" adds MNT_DETACH
 *   id listeners PORT                         inodes of the TCP sockets listening on PORT
 *       (IPv4 and IPv6), from the kernel's socket diagnostics: only the listening table
 *       is walked, where reading /proc/net/tcp walks every bucket of the established
 *       one (milliseconds on a large host, on every health check's last step)
 *   id spawn CWD STDOUT STDERR ARGC ARGV... ENVC ENV...
 *       fork; the child gets a session of its own, /dev/null as stdin, the two paths
 *       opened for appending (created 0640, never through a symlink) as stdout and stderr,
 *       CWD, no other descriptor, default signal handling, then execve(ARGV[0]).
 * Replies: "id ok", "id err ERRNO WHAT", "id pid PID" (the child exec'd), "id inodes INODE...". Whenever a
 * child spawned here ends: "0 exit PID CODE SIGNAL" (CODE -1 when killed by SIGNAL).
 *
 * Arguments are never interpreted by a shell. The helper exits 0 at the end of its input
 * (the agent is gone); its children live on, as they do when the agent itself dies.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* A spawn of a big environment is a few KiB; anything near this is not from the agent. */
#define MAX_BODY (1U << 20)
#define MAX_FIELDS 8192

static char *in_buf;
static size_t in_len, in_cap;

static void die(const char *what) {
  fprintf(stderr, "dea-spawner: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void write_all(const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(1, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      exit(0); /* the agent is gone */
    }
    p += w;
    n -= (size_t)w;
  }
}

/* One reply frame of `n` fields. */
static void reply(const char *const *fields, int n) {
  size_t len = 0;
  for (int i = 0; i < n; i++) len += strlen(fields[i]) + 1;
  char *frame = malloc(4 + len);
  if (frame == NULL) die("malloc");
  uint32_t l = (uint32_t)len;
  frame[0] = (char)(l & 0xff);
  frame[1] = (char)((l >> 8) & 0xff);
  frame[2] = (char)((l >> 16) & 0xff);
  frame[3] = (char)((l >> 24) & 0xff);
  char *p = frame + 4;
  for (int i = 0; i < n; i++) {
    size_t k = strlen(fields[i]) + 1;
    memcpy(p, fields[i], k);
    p += k;
  }
  write_all(frame, 4 + len);
  free(frame);
}

static void reply_ok(const char *id) {
  const char *f[] = {id, "ok"};
  reply(f, 2);
}

static void reply_err(const char *id, int err, const char *what) {
  char num[16];
  snprintf(num, sizeof num, "%d", err);
  const char *f[] = {id, "err", num, what};
  reply(f, 4);
}

static void do_mount(const char *id, char **a, int n) {
  if (n != 4) return reply_err(id, EINVAL, "mount takes 4 fields");
  if (mount(a[0], a[2], a[1], 0, a[3]) < 0) return reply_err(id, errno, "mount");
  reply_ok(id);
}

static void do_umount(const char *id, char **a, int n) {
  if (n != 2) return reply_err(id, EINVAL, "umount takes 2 fields");
  if (umount2(a[0], strcmp(a[1], "1") == 0 ? MNT_DETACH : 0) < 0) return reply_err(id, errno, "umount");
  reply_ok(id);
}

/* Appends to `out` (at most `max`) the inodes of `family` TCP sockets listening on `port`. */
static int listening_inodes(int family, unsigned port, unsigned long *out, int n, int max) {
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return -1;
  struct {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 r;
  } req = {0};
  req.nlh.nlmsg_len = sizeof req;
  req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.r.sdiag_family = (unsigned char)family;
  req.r.sdiag_protocol = IPPROTO_TCP;
  req.r.idiag_states = 1U << 10; /* TCP_LISTEN only: the established table is not walked */
  if (send(fd, &req, sizeof req, 0) < 0) {
    close(fd);
    return -1;
  }
  static char buf[32768];
  for (;;) {
    ssize_t len = recv(fd, buf, sizeof buf, 0);
    if (len < 0 && errno == EINTR) continue;
    if (len <= 0) break;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
        close(fd);
        return h->nlmsg_type == NLMSG_DONE ? n : -1;
      }
      struct inet_diag_msg *m = NLMSG_DATA(h);
      if (ntohs(m->id.idiag_sport) == port && n < max) out[n++] = m->idiag_inode;
    }
  }
  close(fd);
  return n;
}

static void do_listeners(const char *id, char **a, int nf) {
  if (nf != 1) return reply_err(id, EINVAL, "listeners takes 1 field");
  long port = strtol(a[0], NULL, 10);
  if (port < 1 || port > 65535) return reply_err(id, EINVAL, "listeners: bad port");
  unsigned long inodes[64];
  int n = listening_inodes(AF_INET, (unsigned)port, inodes, 0, 64);
  if (n >= 0) n = listening_inodes(AF_INET6, (unsigned)port, inodes, n, 64);
  if (n < 0) return reply_err(id, errno ? errno : EIO, "sock_diag");
  char nums[64][24];
  const char *f[66] = {id, "inodes"};
  for (int i = 0; i < n; i++) {
    snprintf(nums[i], sizeof nums[i], "%lu", inodes[i]);
    f[2 + i] = nums[i];
  }
  reply(f, 2 + n);
}

/* In the child: everything but the exec; -1 with errno set on failure. */
static int child_setup(const char *cwd, const char *out, const char *err) {
  sigset_t none;
  sigemptyset(&none);
  for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (setsid() < 0) return -1;
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int o = open(out, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
  int e = o < 0 ? -1 : open(err, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
  if (in < 0 || o < 0 || e < 0) return -1;
  if (dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0) return -1;
  if (chdir(cwd) < 0) return -1;
  /* stdin, stdout and stderr only: the request pipe and the status pipe close at exec. */
  return (int)syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
}

static void do_spawn(const char *id, char **a, int n) {
  if (n < 5) return reply_err(id, EINVAL, "spawn: too few fields");
  long argc = strtol(a[3], NULL, 10);
  if (argc < 1 || 4 + argc >= n) return reply_err(id, EINVAL, "spawn: bad argc");
  long envc = strtol(a[4 + argc], NULL, 10);
  if (envc < 0 || 5 + argc + envc != n) return reply_err(id, EINVAL, "spawn: bad envc");
  char **argv = calloc((size_t)argc + 1, sizeof *argv);
  char **envp = calloc((size_t)envc + 1, sizeof *envp);
  if (argv == NULL || envp == NULL) die("calloc");
  for (long i = 0; i < argc; i++) argv[i] = a[4 + i];
  for (long i = 0; i < envc; i++) envp[i] = a[5 + argc + i];

  /* The exec's outcome comes back through a close-on-exec pipe: EOF means it happened. */
  int st[2];
  if (pipe2(st, O_CLOEXEC) < 0) {
    reply_err(id, errno, "pipe");
    goto out;
  }
  pid_t pid = fork();
  if (pid < 0) {
    reply_err(id, errno, "fork");
    close(st[0]);
    close(st[1]);
    goto out;
  }
  if (pid == 0) {
    close(st[0]);
    if (child_setup(a[0], a[1], a[2]) == 0) execve(argv[0], argv, envp);
    int saved = errno;
    ssize_t w = write(st[1], &saved, sizeof saved);
    (void)w;
    _exit(127);
  }
  close(st[1]);
  int child_err = 0;
  ssize_t r;
  do r = read(st[0], &child_err, sizeof child_err);
  while (r < 0 && errno == EINTR);
  close(st[0]);
  if (r == (ssize_t)sizeof child_err) {
    waitpid(pid, NULL, 0); /* never reported as an exit: it never ran */
    reply_err(id, child_err, "exec");
  } else {
    char num[16];
    snprintf(num, sizeof num, "%d", (int)pid);
    const char *f[] = {id, "pid", num};
    reply(f, 3);
  }
out:
  free(argv);
  free(envp);
}

static void handle(char *body, uint32_t len) {
  char *fields[MAX_FIELDS];
  int n = 0;
  if (len == 0 || body[len - 1] != '\0') return;
  for (char *p = body; p < body + len && n < MAX_FIELDS; p += strlen(p) + 1) fields[n++] = p;
  if (n < 2) return;
  const char *id = fields[0], *op = fields[1];
  if (strcmp(op, "mount") == 0) do_mount(id, fields + 2, n - 2);
  else if (strcmp(op, "umount") == 0) do_umount(id, fields + 2, n - 2);
  else if (strcmp(op, "spawn") == 0) do_spawn(id, fields + 2, n - 2);
  else if (strcmp(op, "listeners") == 0) do_listeners(id, fields + 2, n - 2);
  else reply_err(id, EINVAL, "unknown operation");
}

/* Handles every complete frame in the input buffer; false on a frame no agent sends. */
static int drain_input(void) {
  size_t at = 0;
  while (in_len - at >= 4) {
    unsigned char *h = (unsigned char *)in_buf + at;
    uint32_t len = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
    if (len > MAX_BODY) return 0;
    if (in_len - at - 4 < len) break;
    handle(in_buf + at + 4, len);
    at += 4 + len;
  }
  memmove(in_buf, in_buf + at, in_len - at);
  in_len -= at;
  return 1;
}

static void report_exits(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    char p[16], code[16], sig[16];
    snprintf(p, sizeof p, "%d", (int)pid);
    snprintf(code, sizeof code, "%d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    snprintf(sig, sizeof sig, "%d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    const char *f[] = {"0", "exit", p, code, sig};
    reply(f, 5);
  }
}

int main(void) {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0) die("sigprocmask");
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) die("signalfd");
  signal(SIGPIPE, SIG_IGN);
  in_cap = 65536;
  in_buf = malloc(in_cap);
  if (in_buf == NULL) die("malloc");
  struct pollfd pfd[2] = {{.fd = 0, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
  for (;;) {
    if (poll(pfd, 2, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (pfd[1].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) continue;
      report_exits();
    }
    if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (in_cap - in_len < 4096) {
        if (in_cap >= 2 * (MAX_BODY + 4)) return 2;
        in_cap *= 2;
        in_buf = realloc(in_buf, in_cap);
        if (in_buf == NULL) die("realloc");
      }
      ssize_t r = read(0, in_buf + in_len, in_cap - in_len);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return 0; /* the agent is gone */
      in_len += (size_t)r;
      if (!drain_input()) {
        fprintf(stderr, "dea-spawner: a frame longer than %u bytes: not from the agent\n", MAX_BODY);
        return 2;
      }
    }
  }
}
