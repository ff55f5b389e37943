#define _GNU_SOURCE
#include "cshim.h"
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs `body` in a child cloned with `flags`; returns 0 or the child's errno. */
static int in_child(int flags, int (*body)(const char *), const char *arg) {
    pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, 0, 0, 0, 0);
    if (pid < 0) return errno;
    if (pid == 0) _exit(body(arg) & 0xff);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return errno;
    }
    if (!WIFEXITED(status)) return EINTR;
    return WEXITSTATUS(status);
}

static int nothing(const char *arg) { (void)arg; return 0; }

int cshim_probe_userns(void) {
    return in_child(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID, nothing, NULL);
}

static int overlay_body(const char *dir) {
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return errno;
    char lower1[512], lower2[512], upper[512], work[512], merged[512], data[2600];
    snprintf(lower1, sizeof lower1, "%s/l1", dir);
    snprintf(lower2, sizeof lower2, "%s/l2", dir);
    snprintf(upper, sizeof upper, "%s/u", dir);
    snprintf(work, sizeof work, "%s/w", dir);
    snprintf(merged, sizeof merged, "%s/m", dir);
    snprintf(data, sizeof data, "lowerdir=%s:%s,upperdir=%s,workdir=%s", lower1, lower2, upper, work);
    if (mount("overlay", merged, "overlay", 0, data) != 0) return errno;
    if (umount2(merged, 0) != 0) return errno;
    return 0;
}

int cshim_probe_overlay(const char *dir) {
    /* A private mount namespace: the test mount is invisible to the host and dies with the child. */
    return in_child(CLONE_NEWNS, overlay_body, dir);
}
