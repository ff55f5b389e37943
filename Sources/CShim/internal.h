/* Helpers shared by container.c and syscalls.c; safe between clone and exec (no allocation, no locks, no stdio). */
#pragma once
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

int cshim_join_cgroups(pid_t pid, const char *paths, const char **bad, size_t *bad_len);

/* openat2(2) with `resolve` (RESOLVE_* flags) and O_CLOEXEC; -1 with errno set. */
static inline int cshim_openat2(int dirfd, const char *path, int flags, uint64_t resolve) {
    struct open_how how = {0};
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.resolve = resolve;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}
int cshim_self_join_cgroups(const char *paths, const char **bad, size_t *bad_len);

/* Decimal digits of v into out (at least 20 bytes), not terminated; returns how many. */
static inline size_t cshim_format_uint(unsigned long v, char *out) {
    char tmp[24];
    size_t t = 0, n = 0;
    do { tmp[t++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (t) out[n++] = tmp[--t];
    return n;
}

/* The kernel's sigaction (x86_64, aarch64 layout). glibc's wrapper refuses its two internal signals (32, 33), so a
   disposition a library set on them (seen: SIG_IGN on 32 in the test runner) would leak into the program. */
struct cshim_kernel_sigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

static inline int cshim_raw_sigaction(int sig, const struct cshim_kernel_sigaction *act,
                                      struct cshim_kernel_sigaction *old) {
    return (int)syscall(SYS_rt_sigaction, sig, act, old, sizeof(uint64_t));
}
