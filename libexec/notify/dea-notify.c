/*
 * dea-notify: sends systemd notification messages ("READY=1", "STATUS=...") as datagrams
 * to the unix socket named by $NOTIFY_SOCKET (a path, or "@name" for an abstract socket).
 *
 * Node has no unix datagram sockets, so the agent runs this as one long-lived child and
 * writes each message to its stdin, ended by a NUL byte: one pipe write per message and
 * no fork. Staying alive matters under systemd: it finds the unit a message belongs to
 * from the sender's pid, and a sender that exits before systemd reads its message can
 * have it dropped. With arguments, it sends them (joined by newlines) as one datagram and
 * exits: for shells and for measuring.
 *
 * A failed send is reported as one line on stderr ("send: <reason>") and the helper goes
 * on; it exits 0 at the end of its input, 2 when NOTIFY_SOCKET is missing or unusable.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* systemd reads at most this much of one message (NOTIFY_BUFFER_MAX in older releases). */
#define MAX_MESSAGE 4096

static struct sockaddr_un addr;
static socklen_t addr_len;

/* Fills addr from $NOTIFY_SOCKET; "@x" becomes the abstract name "\0x". */
static int parse_socket(const char *name) {
  size_t len = name ? strlen(name) : 0;
  if (len < 2 || (name[0] != '/' && name[0] != '@') || len > sizeof addr.sun_path) return -1;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, name, len);
  if (name[0] == '@') addr.sun_path[0] = '\0';
  /* A path socket's name ends in a NUL when there is room; an abstract one never does. */
  addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/' && len < sizeof addr.sun_path));
  return 0;
}

/* One message, one datagram. An unconnected socket: a socket systemd re-created still works. */
static void send_one(int fd, const char *msg, size_t len) {
  if (len == 0) return;
  if (len > MAX_MESSAGE) {
    fprintf(stderr, "send: message of %zu bytes is over %d\n", len, MAX_MESSAGE);
    return;
  }
  ssize_t n;
  do n = sendto(fd, msg, len, MSG_NOSIGNAL, (struct sockaddr *)&addr, addr_len);
  while (n < 0 && errno == EINTR);
  if (n < 0) fprintf(stderr, "send: %s\n", strerror(errno));
}

/* Messages from stdin, each ended by NUL; an unended rest at EOF is sent too. */
static int pump(int fd) {
  static char buf[MAX_MESSAGE * 2];
  size_t used = 0;
  int overlong = 0;
  for (;;) {
    ssize_t n = read(STDIN_FILENO, buf + used, sizeof buf - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += (size_t)n;
    char *start = buf, *nul;
    while ((nul = memchr(start, '\0', used - (size_t)(start - buf))) != NULL) {
      if (!overlong) send_one(fd, start, (size_t)(nul - start));
      overlong = 0;
      start = nul + 1;
    }
    used -= (size_t)(start - buf);
    memmove(buf, start, used);
    if (used == sizeof buf) {
      /* No NUL in a full buffer: report once and drop the message up to its end. */
      if (!overlong) fprintf(stderr, "send: message is over %d bytes\n", MAX_MESSAGE);
      overlong = 1;
      used = 0;
    }
  }
  if (!overlong) send_one(fd, buf, used);
  return 0;
}

static void send_args(int fd, int argc, char **argv) {
  char msg[MAX_MESSAGE + 1];
  size_t len = 0;
  for (int i = 1; i < argc; i++) {
    int n = snprintf(msg + len, sizeof msg - len, "%s%s", i > 1 ? "\n" : "", argv[i]);
    if (n < 0 || (size_t)n >= sizeof msg - len) {
      fprintf(stderr, "send: message is over %d bytes\n", MAX_MESSAGE);
      return;
    }
    len += (size_t)n;
  }
  send_one(fd, msg, len);
}

int main(int argc, char **argv) {
  if (parse_socket(getenv("NOTIFY_SOCKET")) < 0) {
    fprintf(stderr, "socket: NOTIFY_SOCKET is unset or not a path or @name\n");
    return 2;
  }
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fprintf(stderr, "socket: %s\n", strerror(errno));
    return 2;
  }
  setvbuf(stderr, NULL, _IOLBF, 0);
  if (argc > 1) send_args(fd, argc, argv);
  else pump(fd);
  close(fd);
  return 0;
}
