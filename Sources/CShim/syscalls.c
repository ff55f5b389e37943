#define _GNU_SOURCE
#include "cshim.h"
#include "internal.h"
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long cshim_statfs_magic(const char *path) {
    struct statfs s;
    if (statfs(path, &s) != 0) return -1;
    return (long)s.f_type;
}

int cshim_seccomp_export(void *scmp_ctx, void **out, size_t *out_len) {
    /* libseccomp 2.5 only exports to an fd: use an anonymous memory file. */
    int fd = memfd_create("boxbench-seccomp", MFD_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = seccomp_export_bpf((scmp_filter_ctx)scmp_ctx, fd);
    if (rc < 0) { close(fd); return rc; }
    off_t len = lseek(fd, 0, SEEK_END);
    if (len <= 0) { close(fd); return -EINVAL; }
    void *buf = malloc((size_t)len);
    if (!buf) { close(fd); return -ENOMEM; }
    ssize_t n = pread(fd, buf, (size_t)len, 0);
    close(fd);
    if (n != len) { free(buf); return -EIO; }
    *out = buf;
    *out_len = (size_t)len;
    return 0;
}

int cshim_kill_cgroup_procs(const char *procs_path, int sig) {
    int fd = open(procs_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0) return -errno;
    buf[n] = 0;
    int killed = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save)) {
        pid_t pid = (pid_t)atol(tok);
        if (pid > 0 && kill(pid, sig) == 0) killed++;
    }
    return killed;
}

int cshim_set_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 ? 0 : -errno;
}

pid_t cshim_wait4(pid_t pid, int *status, int options, long *maxrss_kb, long *utime_us, long *stime_us) {
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    pid_t r;
    do {
        r = wait4(pid, status, options, &ru);
    } while (r < 0 && errno == EINTR);
    if (r > 0) {
        if (maxrss_kb) *maxrss_kb = ru.ru_maxrss;
        if (utime_us) *utime_us = ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec;
        if (stime_us) *stime_us = ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec;
    }
    return r;
}

static int write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes `data` into each file of the newline-separated list; 0 or -errno with the failing path in *bad. */
static int write_each(const char *paths, const char *data, size_t len, const char **bad, size_t *bad_len) {
    if (!paths) return 0;
    const char *p = paths;
    while (*p) {
        const char *end = strchr(p, '\n');
        size_t plen = end ? (size_t)(end - p) : strlen(p);
        if (plen > 0) {
            char path[4096];
            if (plen >= sizeof path) return -ENAMETOOLONG;
            memcpy(path, p, plen);
            path[plen] = 0;
            int fd = open(path, O_WRONLY | O_CLOEXEC);
            if (fd < 0 || write_all(fd, data, len) != 0) {
                int e = errno;
                if (fd >= 0) close(fd);
                if (bad) { *bad = p; *bad_len = plen; }
                return -e;
            }
            close(fd);
        }
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

/* Writes "<pid>" into each listed cgroup.procs file; returns 0 or -errno with the failing path in *bad. */
int cshim_join_cgroups(pid_t pid, const char *paths, const char **bad, size_t *bad_len) {
    char num[24];
    size_t len = cshim_format_uint((unsigned long)pid, num);
    return write_each(paths, num, len, bad, bad_len);
}

/* Writes "0" (the writer itself) into each listed file: v1 `tasks` files move just the calling thread, which the
   kernel does without its global threadgroup lock — a pid written into cgroup.procs takes that lock and waits for
   an RCU grace period (7–15 ms per launch here). Only for a single-threaded caller between clone and exec.
   Returns 0 or -errno with the failing path in *bad. */
int cshim_self_join_cgroups(const char *paths, const char **bad, size_t *bad_len) {
    return write_each(paths, "0", 1, bad, bad_len);
}

struct spawn_args {
    const char *path;
    char *const *argv;
    char *const *envp;
    int in_fd, out_fd, err_fd;
    const char *cgroup_join_paths;
    int private_mount_ns;
    const char *detach_mount;
    const char *root_dir; /* chroot here before exec (the native arm runs the image's own files), or NULL */
    const char *cwd;      /* then chdir here, or NULL */
    uint64_t reset; /* bit s-1: signal s's disposition is not SIG_DFL in the parent; reset before exec */
    int err; /* written by the child (shared memory), read by the parent after vfork returns */
};

/* Runs on its own stack in the parent's memory (CLONE_VM|CLONE_VFORK, as posix_spawn does): no page-table copy of
   the large harness process, so the launch costs what a small launcher's would. It starts with every signal
   blocked (the parent blocked them around clone), so none of the parent's handlers can run on this stack; it resets
   the dispositions the parent found changed (a handful, read before the clock started, instead of a sigaction for
   each of the 64 signals), then unblocks everything for the program. Joins the accounting cgroups itself
   (cshim_self_join_cgroups), so the workload is counted from its first instruction. */
static int spawn_child(void *opaque) {
    struct spawn_args *a = opaque;
    struct cshim_kernel_sigaction dfl = {SIG_DFL, 0, NULL, 0};
    for (int s = 1; s < NSIG; s++) {
        if (a->reset & (1ull << (s - 1))) cshim_raw_sigaction(s, &dfl, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int joined = cshim_self_join_cgroups(a->cgroup_join_paths, NULL, NULL);
    if (joined != 0) { a->err = -joined; _exit(127); }
    if (a->private_mount_ns) {
        /* crun refuses hybrid cgroups: hide the v2 mount in a private namespace (ENVIRONMENT.md). */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) { a->err = errno; _exit(127); }
        if (a->detach_mount && umount2(a->detach_mount, MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
            a->err = errno;
            _exit(127);
        }
    }
    if ((a->in_fd >= 0 && dup2(a->in_fd, 0) < 0) || (a->out_fd >= 0 && dup2(a->out_fd, 1) < 0) ||
        (a->err_fd >= 0 && dup2(a->err_fd, 2) < 0)) {
        a->err = errno;
        _exit(127);
    }
    if (a->root_dir && (chroot(a->root_dir) != 0 || chdir("/") != 0)) { a->err = errno; _exit(127); }
    if (a->cwd && chdir(a->cwd) != 0) { a->err = errno; _exit(127); }
    /* Only stdin, stdout and stderr cross: libraries in the harness (libvirt's sockets, its error log) open
       descriptors without O_CLOEXEC, and a program must not inherit them (QEMU's microvm stalled with them). */
    if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0) {
        for (int fd = 3; fd < 4096; fd++) close(fd);
    }
    execve(a->path, a->argv, a->envp);
    a->err = errno;
    _exit(127);
}

static uint64_t monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

pid_t cshim_spawn_process(const char *path, char *const argv[], char *const envp[], int in_fd, int out_fd,
                          int err_fd, const char *cgroup_join_paths, int private_mount_ns,
                          const char *detach_mount, const char *root_dir, const char *cwd, int *pidfd_out,
                          uint64_t *started_ns, int *err_out) {
    struct spawn_args a = {path, argv, envp, in_fd, out_fd, err_fd, cgroup_join_paths, private_mount_ns,
                           detach_mount, root_dir, cwd, 0, 0};
    /* Everything that is the launcher's preparation happens before the clock: the stack, the dispositions. */
    for (int s = 1; s < NSIG && s <= 64; s++) {
        struct cshim_kernel_sigaction old;
        if (s != SIGKILL && s != SIGSTOP && cshim_raw_sigaction(s, NULL, &old) == 0 && old.handler != SIG_DFL)
            a.reset |= 1ull << (s - 1);
    }
    size_t stack_size = 256 * 1024;
    char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) { *err_out = errno; return -1; }
    sigset_t all, saved;
    sigfillset(&all);
    int flags = CLONE_VM | CLONE_VFORK | SIGCHLD | (private_mount_ns ? CLONE_NEWNS : 0);
    int pidfd = -1;
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    if (started_ns) *started_ns = monotonic_ns();
    pid_t pid = clone(spawn_child, stack + stack_size, flags | (pidfd_out ? CLONE_PIDFD : 0), &a, &pidfd);
    if (pid < 0 && errno == EINVAL && pidfd_out) {
        /* Kernels before 5.2 have no CLONE_PIDFD: the caller falls back to pidfd_open or polling. */
        if (started_ns) *started_ns = monotonic_ns();
        pid = clone(spawn_child, stack + stack_size, flags, &a);
        pidfd = -1;
    }
    int clone_errno = errno;
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    munmap(stack, stack_size);
    if (pidfd_out) *pidfd_out = pid > 0 ? pidfd : -1;
    if (pid < 0) { *err_out = clone_errno; return -1; }
    if (a.err != 0) {
        /* The child failed before exec and has exited: reap it and report why. */
        int st;
        if (pidfd >= 0) close(pidfd);
        if (pidfd_out) *pidfd_out = -1;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        *err_out = a.err;
        return -1;
    }
    return pid;
}

int cshim_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int cshim_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

/* `path` below the directory `root`, resolved with `resolve` (openat2). */
static int open_below(const char *root, const char *path, int flags, uint64_t resolve) {
    int root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) return -1;
    int fd = cshim_openat2(root_fd, path, flags, resolve);
    int e = errno;
    close(root_fd);
    errno = e;
    return fd;
}

/* RESOLVE_IN_ROOT: every symlink and ".." resolved as if `root` were "/", so a file named by an image
   (/etc/passwd -> /dev/zero, etc -> /) never leads to the host's files. */
int cshim_open_in_root(const char *root, const char *path, int flags) {
    return open_below(root, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

/* RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS: an archive's own files, none of which may lead elsewhere, not even inside
   it (ELOOP for a symlink on the way). */
int cshim_open_beneath_no_symlinks(const char *root, const char *path, int flags) {
    return open_below(root, path, flags, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}
