#define _GNU_SOURCE
#include "cshim.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* A network namespace is per thread: the calling thread moves into a new one, it is pinned by a bind mount of
   /proc/thread-self/ns/net on `path` (like `ip netns add`), and the thread goes back where it was. */
int cshim_netns_create(const char *path) {
    int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (saved < 0) return -errno;
    int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0) {
        int e = errno;
        close(saved);
        return -e;
    }
    close(fd);
    int rc = 0;
    if (unshare(CLONE_NEWNET) != 0) {
        rc = -errno;
    } else if (mount("/proc/thread-self/ns/net", path, NULL, MS_BIND, NULL) != 0) {
        rc = -errno;
    }
    if (setns(saved, CLONE_NEWNET) != 0 && rc == 0) rc = -errno;
    close(saved);
    if (rc != 0) unlink(path);
    return rc;
}

/* Unpins and removes a namespace made by cshim_netns_create; it goes when its last process leaves. */
int cshim_netns_remove(const char *path) {
    if (umount2(path, MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) return -errno;
    if (unlink(path) != 0 && errno != ENOENT) return -errno;
    return 0;
}

/* Moves the calling thread into the namespace pinned at `path`; *saved_fd gets the thread's own, for
   cshim_netns_leave. What the thread clones meanwhile (a process, a container, QEMU) is born there. */
int cshim_netns_enter(const char *path, int *saved_fd) {
    int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (saved < 0) return -errno;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        close(saved);
        return -e;
    }
    int rc = setns(fd, CLONE_NEWNET) == 0 ? 0 : -errno;
    close(fd);
    if (rc != 0) {
        close(saved);
        return rc;
    }
    *saved_fd = saved;
    return 0;
}

int cshim_netns_leave(int saved_fd) {
    int rc = setns(saved_fd, CLONE_NEWNET) == 0 ? 0 : -errno;
    close(saved_fd);
    return rc;
}
