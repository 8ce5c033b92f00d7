/*
 * The container's filesystem, built in its own mount namespace under <run>/root:
 *   /            the stack's rootfs, bound read-only, nosuid, nodev (not recursive:
 *                nothing mounted below it on the host shows through)
 *   /proc /sys   its own proc (the PID namespace's) and a read-only sysfs
 *   /dev         a small tmpfs with null zero full random urandom tty, devpts, shm
 *   /home/vcap   the instance directory, writable (app/, logs/, tmp/ ...)
 *   /tmp         the instance's tmp/ (counted in its disk usage)
 *   masks        empty read-only tmpfs over paths the app must not see (the agent's base_dir)
 *   LXCFS        its proc files and cpu/online bound over ours, when asked
 * then pivot_root into it. Mounts vanish with the namespace: nothing to clean on the host.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "spec.h"

#define FAIL(...) do { int e_ = errno; snprintf(err, errlen, __VA_ARGS__); \
  size_t l_ = strlen(err); snprintf(err + l_, errlen - l_, ": %s", strerror(e_)); return -1; } while (0)

/* A path that would not fit is an error, never a silently shortened (other) path. */
#define PATHF(buf, ...) do { int n_ = snprintf(buf, sizeof buf, __VA_ARGS__); \
  if (n_ < 0 || (size_t)n_ >= sizeof buf) { errno = ENAMETOOLONG; FAIL("path %s", buf); } } while (0)

static const char *const LXCFS_FILES[] = {
  "proc/meminfo", "proc/cpuinfo", "proc/stat", "proc/uptime", "proc/loadavg",
  "proc/diskstats", "proc/swaps", "sys/devices/system/cpu/online",
};

struct node { const char *name; unsigned major, minor; };
static const struct node DEVICES[] = {
  {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

static int bind_ro(const char *src, const char *dst, unsigned long extra, char *err, size_t errlen) {
  if (mount(src, dst, NULL, MS_BIND, NULL) < 0) FAIL("bind %s", dst);
  if (mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | extra, NULL) < 0) FAIL("read-only %s", dst);
  return 0;
}

static int bind_rw(const char *src, const char *dst, char *err, size_t errlen) {
  if (mount(src, dst, NULL, MS_BIND, NULL) < 0) FAIL("bind %s", dst);
  if (mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV, NULL) < 0) FAIL("nosuid %s", dst);
  return 0;
}

static int make_dev(const char *root, char *err, size_t errlen) {
  char path[4096];
  PATHF(path, "%s/dev", root);
  if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k") < 0) FAIL("mount /dev");
  for (size_t i = 0; i < sizeof DEVICES / sizeof DEVICES[0]; i++) {
    PATHF(path, "%s/dev/%s", root, DEVICES[i].name);
    if (mknod(path, S_IFCHR | 0666, makedev(DEVICES[i].major, DEVICES[i].minor)) < 0) FAIL("mknod /dev/%s", DEVICES[i].name);
  }
  PATHF(path, "%s/dev/pts", root);
  if (mkdir(path, 0755) < 0) FAIL("mkdir /dev/pts");
  if (mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620") < 0) FAIL("mount /dev/pts");
  PATHF(path, "%s/dev/shm", root);
  if (mkdir(path, 01777) < 0) FAIL("mkdir /dev/shm");
  if (mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=64m") < 0) FAIL("mount /dev/shm");
  static const char *const links[][2] = {
    {"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
    {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
  };
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
    PATHF(path, "%s/dev/%s", root, links[i][1]);
    if (symlink(links[i][0], path) < 0) FAIL("symlink /dev/%s", links[i][1]);
  }
  return 0;
}

static int make_home(const struct spec *s, const char *root, char *err, size_t errlen) {
  char path[4096];
  PATHF(path, "%s/home", root);
  if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=16k") < 0) FAIL("mount /home");
  PATHF(path, "%s/home/vcap", root);
  if (mkdir(path, 0755) < 0) FAIL("mkdir /home/vcap");
  if (bind_rw(s->home, path, err, errlen) < 0) return -1;
  char tmp[4096];
  PATHF(tmp, "%s/tmp", s->home);
  PATHF(path, "%s/tmp", root);
  return bind_rw(tmp, path, err, errlen);
}

static int bind_lxcfs(const struct spec *s, const char *root, char *err, size_t errlen) {
  char src[4096], dst[4096];
  for (size_t i = 0; i < sizeof LXCFS_FILES / sizeof LXCFS_FILES[0]; i++) {
    PATHF(src, "%s/%s", s->lxcfs, LXCFS_FILES[i]);
    PATHF(dst, "%s/%s", root, LXCFS_FILES[i]);
    if (access(src, F_OK) < 0 || access(dst, F_OK) < 0) continue; /* an older LXCFS lacks some */
    if (mount(src, dst, NULL, MS_BIND, NULL) < 0) FAIL("bind LXCFS %s", LXCFS_FILES[i]);
  }
  return 0;
}

/* A file of the agent's bound read-only over one of the rootfs's (only a regular file: never through a link). */
static int bind_file(const char *src, const char *root, const char *rel, char *err, size_t errlen) {
  char dst[4096];
  struct stat st;
  if (src == NULL) return 0;
  PATHF(dst, "%s/%s", root, rel);
  if (lstat(dst, &st) < 0 || !S_ISREG(st.st_mode)) return 0; /* the rootfs has none: nothing to show */
  return bind_ro(src, dst, MS_NOSUID | MS_NODEV | MS_NOEXEC, err, errlen);
}

static int apply_masks(const struct spec *s, const char *root, char *err, size_t errlen) {
  char path[4096];
  for (int i = 0; i < s->nmasks; i++) {
    PATHF(path, "%s%s", root, s->masks[i]);
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) continue; /* not in this rootfs: nothing to hide */
    if (mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=000,size=4k") < 0) FAIL("mask %s", s->masks[i]);
  }
  return 0;
}

static int pivot(const char *root, char *err, size_t errlen) {
  if (chdir(root) < 0) FAIL("chdir new root");
  /* pivot_root(".", "."): the old root lands on top of the new one, then goes away. */
  if (syscall(SYS_pivot_root, ".", ".") < 0) FAIL("pivot_root");
  if (umount2(".", MNT_DETACH) < 0) FAIL("detach old root");
  if (chdir("/") < 0) FAIL("chdir /");
  return 0;
}

int setup_rootfs(const struct spec *s, char *err, size_t errlen) {
  char root[4096], path[4096];
  /* Nothing we mount may propagate back to the host. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) FAIL("make mounts private");
  PATHF(root, "%s/root", s->run_dir);
  if (bind_ro(s->rootfs, root, MS_NOSUID | MS_NODEV, err, errlen) < 0) return -1;
  PATHF(path, "%s/proc", root);
  if (mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) FAIL("mount /proc");
  PATHF(path, "%s/sys", root);
  if (mount("sysfs", path, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) FAIL("mount /sys");
  if (make_dev(root, err, errlen) < 0 || make_home(s, root, err, errlen) < 0) return -1;
  if (s->lxcfs && bind_lxcfs(s, root, err, errlen) < 0) return -1;
  if (apply_masks(s, root, err, errlen) < 0) return -1;
  if (bind_file(s->hosts, root, "etc/hosts", err, errlen) < 0) return -1;
  if (bind_file(s->resolv, root, "etc/resolv.conf", err, errlen) < 0) return -1;
  if (sethostname(s->hostname, strlen(s->hostname)) < 0) FAIL("sethostname");
  return pivot(root, err, errlen);
}
