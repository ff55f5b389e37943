#define _GNU_SOURCE
#include "cshim.h"
#include "internal.h"
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


/*
 * The child runs between clone and exec in a copy of a multi-threaded process: it must not allocate,
 * lock or call into Swift. Everything here uses the stack, raw syscalls and async-signal-safe libc.
 */

static const char *const step_names[] = {
    "none", "clone", "sync with parent", "write uid/gid maps", "join cgroup", "setsid",
    "sethostname", "make mounts private", "mount rootfs", "mount", "create devices", "pivot_root",
    "mask paths", "read-only paths", "remount root read-only", "unshare cgroup namespace", "setrlimit",
    "chdir", "set uid/gid", "set capabilities", "set no_new_privs", "load seccomp filter",
    "set up stdio", "wait for start", "execve", "oom_score_adj", "createContainer hook", "startContainer hook",
    "paused for runtime hooks", "sysctl",
};

const char *cshim_step_name(int step) {
    if (step < 0 || (size_t)step >= sizeof step_names / sizeof step_names[0]) return "unknown";
    return step_names[step];
}

struct child_ctx {
    const struct cshim_container_config *cfg;
    int report_fd; /* CLOEXEC: EOF at exec means success */
    int go_fd;     /* parent writes the child's host pid once maps and cgroups are in place */
    pid_t host_pid;
    int exec_fifo_fd; /* after `start`: the exec FIFO's write end ("0" = going to exec, "1" = failed after that) */
};

static size_t str_len(const char *s) { size_t n = 0; while (s[n]) n++; return n; }

static int join_path(char *out, size_t cap, const char *a, const char *b) {
    size_t la = str_len(a), lb = str_len(b);
    if (la + lb + 2 > cap) { errno = ENAMETOOLONG; return -1; }
    memcpy(out, a, la);
    size_t o = la;
    if (o > 0 && out[o - 1] == '/') o--;
    if (lb == 0 || b[0] != '/') out[o++] = '/';
    memcpy(out + o, b, lb);
    out[o + lb] = 0;
    return 0;
}

static void report(int fd, int step, int err, const char *detail) {
    if (fd < 0) return;
    struct cshim_spawn_error e;
    memset(&e, 0, sizeof e);
    e.step = step;
    e.err = err;
    if (detail) {
        size_t n = str_len(detail);
        if (n >= sizeof e.detail) n = sizeof e.detail - 1;
        memcpy(e.detail, detail, n);
    }
    ssize_t w;
    do { w = write(fd, &e, sizeof e); } while (w < 0 && errno == EINTR);
}

static __attribute__((noreturn)) void fail(struct child_ctx *c, int step, const char *detail) {
    int e = errno;
    /* After `start` nobody reads the report pipe: tell `start` through the FIFO that the exec did not happen. */
    if (c->exec_fifo_fd >= 0) { ssize_t w = write(c->exec_fifo_fd, "1", 1); (void)w; }
    report(c->report_fd, step, e, detail);
    _exit(127);
}

/* openat2 with every symlink and ".." resolved inside root_fd, as if root_fd were "/" (no magic links). */
static int open_in_root_raw(int root_fd, const char *path, int flags) {
    return cshim_openat2(root_fd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

/* An O_PATH handle on `target` (absolute inside the container) below root_fd, creating missing directories (and, for
   a file bind, the file) on the way. Every step resolves inside the root, so a symlink in the image (`cfg -> /etc`)
   can never make a mount, mkdir or file creation land on the host. */
static int open_target_in_root(int root_fd, const char *target, int is_file) {
    char buf[PATH_MAX];
    size_t n = str_len(target);
    if (n >= sizeof buf) { errno = ENAMETOOLONG; return -1; }
    memcpy(buf, target, n + 1);
    int parent = open_in_root_raw(root_fd, "/", O_PATH | O_DIRECTORY);
    if (parent < 0) return -1;
    size_t i = 0;
    for (;;) {
        while (buf[i] == '/') i++;
        if (buf[i] == 0) return parent; /* the target is the root itself */
        size_t start = i;
        while (buf[i] && buf[i] != '/') i++;
        char saved = buf[i];
        int last = 1;
        for (size_t k = i; buf[k]; k++) if (buf[k] != '/') { last = 0; break; }
        buf[i] = 0;
        int fd = open_in_root_raw(root_fd, buf, O_PATH);
        if (fd < 0 && errno == ENOENT) {
            /* Create the missing component in its parent (itself resolved inside the root), then resolve again. */
            const char *name = buf + start;
            if (last && is_file) {
                int f = openat(parent, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (f < 0 && errno != EEXIST) { int e = errno; close(parent); errno = e; return -1; }
                if (f >= 0) close(f);
            } else if (mkdirat(parent, name, 0755) != 0 && errno != EEXIST) {
                int e = errno; close(parent); errno = e; return -1;
            }
            fd = open_in_root_raw(root_fd, buf, O_PATH);
        }
        close(parent);
        if (fd < 0) return -1;
        buf[i] = saved;
        if (last) return fd;
        parent = fd;
    }
}

/* "/proc/self/fd/N": how mount(2) is pointed at a handle instead of a path that could be swapped. */
static void fd_path(int fd, char out[40]) {
    memcpy(out, "/proc/self/fd/", 14);
    size_t o = 14 + cshim_format_uint((unsigned long)fd, out + 14);
    out[o] = 0;
}

/* Mounts `m` at its target inside the root; bind mounts with MS_RDONLY need a second remount to take effect, which
   is made on the new mount (the target opened again), never on what lies under it. */
static int do_mount(int root_fd, const struct cshim_mount *m) {
    int fd = open_target_in_root(root_fd, m->target, m->is_file);
    if (fd < 0) return -1;
    char where[40];
    fd_path(fd, where);
    unsigned long flags = m->flags;
    int rc = mount(m->source, where, m->fstype,
                   flags & ~(unsigned long)MS_RDONLY | ((flags & MS_BIND) ? 0 : (flags & MS_RDONLY)), m->data);
    int e = errno;
    close(fd);
    if (rc != 0) { errno = e; return -1; }
    if (!((flags & MS_BIND) && (flags & MS_RDONLY)) && !m->propagation) return 0;
    fd = open_in_root_raw(root_fd, m->target, O_PATH);
    if (fd < 0) return -1;
    fd_path(fd, where);
    rc = 0;
    if ((flags & MS_BIND) && (flags & MS_RDONLY))
        rc = mount(NULL, where, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | (flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC)), NULL);
    if (rc == 0 && m->propagation) rc = mount(NULL, where, NULL, (unsigned long)m->propagation, NULL);
    e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* The default nodes in the container's /dev, every path resolved inside the root (/dev may be a symlink in the
   image). `scratch` receives the failing name. */
static int create_devices(int root_fd, int in_userns, char *scratch, size_t cap) {
    static const struct { const char *name; unsigned maj, min; } devs[] = {
        {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
        {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
    };
    if (join_path(scratch, cap, "", "/dev") != 0) return -1;
    int dev = open_target_in_root(root_fd, "/dev", 0);
    if (dev < 0) return -1;
    for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
        if (join_path(scratch, cap, "/dev", devs[i].name) != 0) goto fail;
        if (!in_userns) {
            unlinkat(dev, devs[i].name, 0);
            if (mknodat(dev, devs[i].name, S_IFCHR | 0666, makedev(devs[i].maj, devs[i].min)) != 0) goto fail;
            if (fchmodat(dev, devs[i].name, 0666, AT_SYMLINK_NOFOLLOW) != 0 && errno != EOPNOTSUPP) goto fail;
        } else {
            /* mknod is refused in a user namespace: bind the host node instead (as rootless runc does). */
            char host[16] = "/dev/";
            memcpy(host + 5, devs[i].name, str_len(devs[i].name) + 1);
            struct cshim_mount bind = {host, scratch, NULL, MS_BIND, NULL, 0, 1};
            if (do_mount(root_fd, &bind) != 0) goto fail;
        }
    }
    static const struct { const char *target, *link; } links[] = {
        {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
        {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
        {"pts/ptmx", "ptmx"}, {"/proc/kcore", "core"},
    };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        if (join_path(scratch, cap, "/dev", links[i].link) != 0) goto fail;
        if (symlinkat(links[i].target, dev, links[i].link) != 0 && errno != EEXIST) goto fail;
    }
    close(dev);
    return 0;
fail:;
    int e = errno;
    close(dev);
    errno = e;
    return -1;
}

static int mask_path(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(st.st_mode)) return mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0k");
    /* Without a /dev mount, /dev/null is the image's own file: a mask must be the real 1:3 node (CVE-2025-31133). */
    struct stat null_st;
    if (stat("/dev/null", &null_st) != 0) return -1;
    if (!S_ISCHR(null_st.st_mode) || null_st.st_rdev != makedev(1, 3)) { errno = EPERM; return -1; }
    if (mount("/dev/null", path, NULL, MS_BIND, NULL) != 0) return errno == ENOENT ? 0 : -1;
    return 0;
}

/* "net.ipv4.ip_forward=1" → writes "1" to /proc/sys/net/ipv4/ip_forward (the container's own /proc). */
static int write_sysctl(const char *entry, char *scratch, size_t cap) {
    const char *eq = strchr(entry, '=');
    if (!eq) { errno = EINVAL; return -1; }
    static const char prefix[] = "/proc/sys/";
    size_t kl = (size_t)(eq - entry);
    if (sizeof prefix + kl >= cap) { errno = ENAMETOOLONG; return -1; }
    memcpy(scratch, prefix, sizeof prefix - 1);
    for (size_t i = 0; i < kl; i++) scratch[sizeof prefix - 1 + i] = entry[i] == '.' ? '/' : entry[i];
    scratch[sizeof prefix - 1 + kl] = 0;
    int fd = open(scratch, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -1;
    const char *value = eq + 1;
    ssize_t w = write(fd, value, str_len(value));
    int e = errno;
    close(fd);
    if (w < 0) { errno = e; return -1; }
    return 0;
}

static int readonly_path(const char *path) {
    if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) != 0) return errno == ENOENT ? 0 : -1;
    return mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

/* Closes every descriptor >= 3 except `keep` (unsorted, -1 entries ignored): nothing the runtime holds (lock, state
   dir, cgroup dir, bundle, pipes) may reach the container. close_range, or close() one by one where it is refused
   (an old kernel, or a seccomp profile that does not know it). */
static void close_fds_except(const int *keep, size_t n) {
    int sorted[8];
    size_t m = 0;
    for (size_t i = 0; i < n && m < sizeof sorted / sizeof sorted[0]; i++) {
        if (keep[i] >= 3) sorted[m++] = keep[i];
    }
    for (size_t i = 1; i < m; i++) {
        for (size_t j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            int t = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = t;
        }
    }
    struct rlimit rl;
    unsigned int limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1u << 20 ? (unsigned)rl.rlim_cur : 1u << 20;
    unsigned int from = 3;
    for (size_t i = 0; i <= m; i++) {
        unsigned int to = i < m ? (unsigned)sorted[i] : ~0U; /* exclusive; duplicates give an empty range */
        if (to > from) {
            if (syscall(SYS_close_range, from, to - 1, 0) != 0) {
                for (unsigned int fd = from; fd < to && fd < limit; fd++) close((int)fd);
            }
        }
        if (i < m) from = (unsigned)sorted[i] + 1;
    }
}

/* After chdir: the working directory must be inside the container's root. getcwd(2) fails with ENOENT or returns a
   path starting "(unreachable)" for a directory outside it (a leaked host fd, the runc CVE-2024-21626 class). */
static int cwd_is_inside_root(void) {
    char buf[PATH_MAX];
    long n = syscall(SYS_getcwd, buf, sizeof buf);
    if (n < 0) return -1;
    if (buf[0] != '/') { errno = EXDEV; return -1; }
    return 0;
}

/* Needs CAP_SETPCAP in the effective set, so it runs before the uid change clears it (runc's order). */
static int drop_bounding_set(const struct cshim_container_config *cfg) {
    for (int cap = 0; cap <= 63; cap++) {
        if (!(cfg->cap_bounding & (1ULL << cap))) {
            if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return -1;
        }
    }
    return 0;
}

/* Effective, permitted, inheritable, then ambient: after the uid change (KEEPCAPS kept the permitted set). */
static int set_capabilities(const struct cshim_container_config *cfg) {
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    data[0].effective = (uint32_t)cfg->cap_effective;
    data[1].effective = (uint32_t)(cfg->cap_effective >> 32);
    data[0].permitted = (uint32_t)cfg->cap_permitted;
    data[1].permitted = (uint32_t)(cfg->cap_permitted >> 32);
    data[0].inheritable = (uint32_t)cfg->cap_inheritable;
    data[1].inheritable = (uint32_t)(cfg->cap_inheritable >> 32);
    if (syscall(SYS_capset, &hdr, data) != 0) return -1;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return -1;
    for (int cap = 0; cap <= 63; cap++) {
        if (cfg->cap_ambient & (1ULL << cap)) {
            if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) return -1;
        }
    }
    return 0;
}

static int load_seccomp(const struct cshim_container_config *cfg) {
    struct sock_fprog prog;
    prog.len = (unsigned short)(cfg->seccomp_filter_len / sizeof(struct sock_filter));
    prog.filter = (struct sock_filter *)cfg->seccomp_filter;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

/*
 * The runc CVE-2019-5736 class: until it execs, the container process is a copy of the runtime, so its
 * /proc/self/exe is the host's boxbench binary; a program whose interpreter is /proc/self/exe (`#!/proc/self/exe`)
 * would run that binary inside the container, where it can be read and, once the runtime exits, overwritten.
 * Instead of copying the 10 MB binary into a sealed memfd at every launch (runc's first fix), the process first
 * execs a 182-byte static program from a sealed memfd, which execs the real one: from the first exec on, what
 * /proc/self/exe leads to is that sealed helper (no loader, so no LD_PRELOAD), never the host binary.
 */
#if defined(__x86_64__)
/* _start: execve(argv[0], &argv[1], envp), retried while ETXTBSY (another process's child may hold a write
   descriptor of the program for the moment between its clone and its close_range); then exit(127). */
static const unsigned char exec_helper_code[] = {
    0x48, 0x8b, 0x7c, 0x24, 0x08,       /*  0 mov rdi, [rsp+8]          argv[0]: the program */
    0x48, 0x8d, 0x74, 0x24, 0x10,       /*  5 lea rsi, [rsp+16]         &argv[1]: its argv */
    0x48, 0x8b, 0x04, 0x24,             /* 10 mov rax, [rsp]            argc */
    0x48, 0x8d, 0x54, 0xc4, 0x10,       /* 14 lea rdx, [rsp+rax*8+16]   envp */
    0x41, 0xbc, 0xe8, 0x03, 0x00, 0x00, /* 19 mov r12d, 1000            tries */
    0xb8, 0x3b, 0x00, 0x00, 0x00,       /* 25 mov eax, SYS_execve */
    0x0f, 0x05,                         /* 30 syscall */
    0x48, 0x83, 0xf8, 0xe6,             /* 32 cmp rax, -ETXTBSY */
    0x75, 0x0c,                         /* 36 jne 50 */
    0xb8, 0x18, 0x00, 0x00, 0x00,       /* 38 mov eax, SYS_sched_yield */
    0x0f, 0x05,                         /* 43 syscall */
    0x41, 0xff, 0xcc,                   /* 45 dec r12d */
    0x75, 0xe7,                         /* 48 jnz 25 */
    0xbf, 0x7f, 0x00, 0x00, 0x00,       /* 50 mov edi, 127 */
    0xb8, 0x3c, 0x00, 0x00, 0x00,       /* 55 mov eax, SYS_exit */
    0x0f, 0x05,                         /* 60 syscall */
};
#endif

static int exec_helper_fd = -1;
static pthread_once_t exec_helper_once = PTHREAD_ONCE_INIT;

/* Once per process, in the parent: the helper ELF in a memfd sealed against every change. */
static void make_exec_helper(void) {
#if defined(__x86_64__)
    unsigned char image[sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr) + sizeof exec_helper_code];
    memset(image, 0, sizeof image);
    Elf64_Ehdr *eh = (Elf64_Ehdr *)image;
    Elf64_Phdr *ph = (Elf64_Phdr *)(image + sizeof *eh);
    const uint64_t base = 0x400000;
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_ident[EI_VERSION] = EV_CURRENT;
    eh->e_type = ET_EXEC;
    eh->e_machine = EM_X86_64;
    eh->e_version = EV_CURRENT;
    eh->e_entry = base + sizeof *eh + sizeof *ph;
    eh->e_phoff = sizeof *eh;
    eh->e_ehsize = sizeof *eh;
    eh->e_phentsize = sizeof *ph;
    eh->e_phnum = 1;
    ph->p_type = PT_LOAD;
    ph->p_flags = PF_R | PF_X;
    ph->p_vaddr = ph->p_paddr = base;
    ph->p_filesz = ph->p_memsz = sizeof image;
    ph->p_align = 0x1000;
    memcpy(image + sizeof *eh + sizeof *ph, exec_helper_code, sizeof exec_helper_code);
    /* MFD_EXEC: kernels with vm.memfd_noexec refuse to exec a memfd made without it. */
    int fd = (int)syscall(SYS_memfd_create, "boxbench-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING | 0x0010U);
    if (fd < 0) fd = (int)syscall(SYS_memfd_create, "boxbench-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return;
    if (fd < 3) {
        /* Never one of 0-2: the child dup2()s the container's stdio over them before it execs. */
        int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        close(fd);
        if (high < 0) return;
        fd = high;
    }
    if (write(fd, image, sizeof image) != (ssize_t)sizeof image ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
        close(fd);
        return;
    }
    exec_helper_fd = fd;
#endif
}

int cshim_exec_helper_available(void) {
    pthread_once(&exec_helper_once, make_exec_helper);
    return exec_helper_fd >= 0;
}

/* The program's path: argv[0] itself when it has a slash, else the first executable regular file on the container's
   PATH (execvpe's search, without allocating). NULL with errno set when there is none. */
static const char *resolve_program(const struct cshim_container_config *cfg, char *buf, size_t cap) {
    const char *file = cfg->argv[0];
    struct stat st;
    if (strchr(file, '/')) {
        if (access(file, X_OK) != 0) return NULL;
        if (stat(file, &st) != 0) return NULL;
        if (!S_ISREG(st.st_mode)) { errno = EACCES; return NULL; }
        return file;
    }
    const char *path = cfg->path_env ? cfg->path_env : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    int saved = ENOENT;
    size_t fl = str_len(file);
    for (const char *p = path;; ) {
        const char *end = strchr(p, ':');
        size_t dl = end ? (size_t)(end - p) : str_len(p);
        if (dl + fl + 2 < cap) {
            memcpy(buf, p, dl);
            size_t o = dl;
            if (o == 0) buf[o++] = '.';
            buf[o++] = '/';
            memcpy(buf + o, file, fl + 1);
            if (access(buf, X_OK) == 0 && stat(buf, &st) == 0 && S_ISREG(st.st_mode)) return buf;
            if (errno != ENOENT && errno != ENOTDIR) saved = errno == 0 ? EACCES : errno;
        }
        if (!end) break;
        p = end + 1;
    }
    errno = saved;
    return NULL;
}

/* Execs the container's program through the sealed helper (see above); returns only on failure, errno set, with
   what failed in *detail. */
static void exec_program(const struct cshim_container_config *cfg, const char **detail) {
    char buf[PATH_MAX];
    *detail = cfg->argv[0];
    const char *path = resolve_program(cfg, buf, sizeof buf);
    if (!path) return;
    if (exec_helper_fd >= 0) {
        size_t argc = 0;
        while (cfg->argv[argc]) argc++;
        char **argv2 = mmap(NULL, (argc + 2) * sizeof(char *), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                            -1, 0);
        if (argv2 == MAP_FAILED) return;
        argv2[0] = (char *)path;
        for (size_t i = 0; i < argc; i++) argv2[i + 1] = cfg->argv[i];
        argv2[argc + 1] = NULL;
        syscall(SYS_execveat, exec_helper_fd, "", argv2, cfg->envp, AT_EMPTY_PATH);
        /* A seccomp profile that denies execveat gets an error, never a silent exec without the helper. */
        if (errno == EPERM) *detail = "execveat of the sealed exec helper (the seccomp profile must allow execveat)";
        return;
    }
    execve(path, cfg->argv, cfg->envp);
}

/* glibc's setresuid/setgroups broadcast the change to every thread it believes exists and wait on a futex for
   them; after a raw clone of a multi-threaded process those threads do not exist, so use the syscalls directly. */
static int raw_setresuid(uid_t id) { return (int)syscall(SYS_setresuid, id, id, id); }
static int raw_setresgid(gid_t id) { return (int)syscall(SYS_setresgid, id, id, id); }

static int write_all_fd(int fd, const char *s, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* "<path>: <what><number>" into a child-private buffer (no stdio after clone), pointed to by *out. */
static void hook_detail(const char *path, const char *what, int number, const char **out) {
    static char buf[240];
    size_t o = 0;
    const char *parts[] = {path, ": ", what};
    for (size_t i = 0; i < 3; i++)
        for (const char *p = parts[i]; *p && o < sizeof buf - 12; p++) buf[o++] = *p;
    if (number >= 0) o += cshim_format_uint((unsigned long)number, buf + o);
    buf[o] = 0;
    *out = buf;
}

/* Runs OCI hooks in order from the child (so in the container's namespaces), each with the state on stdin from a
   memfd. A raw clone, not fork(): glibc's fork runs atfork handlers that take locks a thread of the parent process
   may have held at clone time. Returns 0, or -1 with errno set and the failing hook's path in *failed. */
static int run_hooks_inside(const struct child_ctx *c, const struct cshim_hook *hooks, size_t n,
                            const char *suffix, const char **failed) {
    const struct cshim_container_config *cfg = c->cfg;
    for (size_t i = 0; i < n; i++) {
        const struct cshim_hook *h = &hooks[i];
        *failed = h->path;
        int state = (int)syscall(SYS_memfd_create, "oci-state", MFD_CLOEXEC);
        if (state < 0) return -1;
        char digits[24];
        size_t nd = cshim_format_uint((unsigned long)c->host_pid, digits);
        const char *prefix = cfg->hook_state_prefix ? cfg->hook_state_prefix : "";
        if (write_all_fd(state, prefix, str_len(prefix)) != 0 || write_all_fd(state, digits, nd) != 0 ||
            write_all_fd(state, suffix, str_len(suffix)) != 0 || lseek(state, 0, SEEK_SET) != 0) {
            int e = errno;
            close(state);
            errno = e;
            return -1;
        }
        long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
        if (pid < 0) { int e = errno; close(state); errno = e; return -1; }
        if (pid == 0) {
            if (dup2(state, 0) < 0) _exit(126);
            execve(h->path, h->argv, h->envp);
            _exit(127);
        }
        close(state);
        struct timespec tick = {0, 1000000}, start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        int st = 0;
        for (;;) {
            pid_t r = waitpid((pid_t)pid, &st, WNOHANG);
            if (r == (pid_t)pid) break;
            if (r < 0 && errno != EINTR) return -1;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (h->timeout_s > 0 && now.tv_sec - start.tv_sec >= h->timeout_s) {
                kill((pid_t)pid, SIGKILL);
                while (waitpid((pid_t)pid, &st, 0) < 0 && errno == EINTR) {}
                hook_detail(h->path, "timed out", -1, failed);
                errno = ETIMEDOUT;
                return -1;
            }
            nanosleep(&tick, NULL);
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            /* The detail carries the hook's own status; errno only says "not an exec-level error". */
            if (WIFEXITED(st)) hook_detail(h->path, "exited with status ", WEXITSTATUS(st), failed);
            else hook_detail(h->path, "killed by signal ", WTERMSIG(st), failed);
            errno = 0;
            return -1;
        }
    }
    return 0;
}

/* Before pivot_root: let the parent run the runtime-namespace hooks, then run createContainer hooks here. */
static void before_pivot(struct child_ctx *c) {
    const struct cshim_container_config *cfg = c->cfg;
    if (cfg->paused) {
        report(c->report_fd, CSHIM_STEP_PAUSED, 0, NULL);
        char go;
        ssize_t n;
        do { n = read(c->go_fd, &go, 1); } while (n < 0 && errno == EINTR);
        if (n != 1) fail(c, CSHIM_STEP_SYNC, "runtime hooks: parent went away");
    }
    const char *failed = NULL;
    if (cfg->n_create_container_hooks > 0 &&
        run_hooks_inside(c, cfg->create_container_hooks, cfg->n_create_container_hooks,
                         cfg->hook_state_creating_suffix ? cfg->hook_state_creating_suffix : "", &failed) != 0)
        fail(c, CSHIM_STEP_CREATE_CONTAINER_HOOK, failed);
}

static __attribute__((noreturn)) void child_main(struct child_ctx *c) {
    const struct cshim_container_config *cfg = c->cfg;
    char scratch[PATH_MAX];

    /* Block until the parent has written id maps and placed us in the cgroup; it sends our host pid. */
    ssize_t n;
    do { n = read(c->go_fd, &c->host_pid, sizeof c->host_pid); } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof c->host_pid) fail(c, CSHIM_STEP_SYNC, "parent went away");
    if (!cfg->paused) { close(c->go_fd); c->go_fd = -1; }

    const char *bad = NULL;
    size_t bad_len = 0;
    int joined = cshim_self_join_cgroups(cfg->cgroup_join_paths, &bad, &bad_len);
    if (joined != 0) {
        char what[240];
        size_t n_what = bad && bad_len < sizeof what ? bad_len : 0;
        memcpy(what, bad ? bad : "", n_what);
        what[n_what] = 0;
        errno = -joined;
        fail(c, CSHIM_STEP_CGROUP, what);
    }
    /* Before any path of the container's is resolved: the parent's descriptors (its lock, state and cgroup dirs)
       were copied by clone and are CLOEXEC, but exec is far away. */
    {
        int keep[] = {c->report_fd, c->go_fd, cfg->stdin_fd, cfg->stdout_fd, cfg->stderr_fd, cfg->start_fd,
                      exec_helper_fd};
        close_fds_except(keep, sizeof keep / sizeof keep[0]);
    }

    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    /* The raw syscall: glibc's signal() refuses 32 and 33, whose dispositions would otherwise leak in. */
    for (int s = 1; s < NSIG; s++) {
        if (s == SIGKILL || s == SIGSTOP) continue;
        struct cshim_kernel_sigaction dfl = {SIG_DFL, 0, NULL, 0};
        cshim_raw_sigaction(s, &dfl, NULL);
    }

    if (setsid() < 0) fail(c, CSHIM_STEP_SETSID, NULL);
    /* The FIFO lives in the runtime's state dir, invisible after pivot_root: keep an O_PATH handle to it. */
    int fifo_path_fd = -1;
    if (cfg->exec_fifo) {
        fifo_path_fd = open(cfg->exec_fifo, O_PATH | O_CLOEXEC);
        if (fifo_path_fd < 0) fail(c, CSHIM_STEP_WAIT_START, cfg->exec_fifo);
    }
    if (cfg->namespaces & CLONE_NEWUSER) {
        if (raw_setresgid(0) != 0 || raw_setresuid(0) != 0) fail(c, CSHIM_STEP_IDS, "become root in user namespace");
    }
    /* Entering the cgroup namespace after joining the cgroup makes the container's group its root. */
    if (cfg->namespaces & CLONE_NEWCGROUP) {
        if (unshare(CLONE_NEWCGROUP) != 0) fail(c, CSHIM_STEP_CGROUP_NS, NULL);
    }
    if (cfg->hostname && (cfg->namespaces & CLONE_NEWUTS)) {
        if (sethostname(cfg->hostname, str_len(cfg->hostname)) != 0) fail(c, CSHIM_STEP_HOSTNAME, cfg->hostname);
    }
    if (cfg->domainname && (cfg->namespaces & CLONE_NEWUTS)) {
        if (setdomainname(cfg->domainname, str_len(cfg->domainname)) != 0) fail(c, CSHIM_STEP_HOSTNAME, cfg->domainname);
    }

    if (cfg->namespaces & CLONE_NEWNS) {
        /* Nothing we mount may propagate back to the host. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail(c, CSHIM_STEP_MOUNT_PRIVATE, "/");
        if (cfg->overlay_lowerdirs) {
            char data[PATH_MAX * 4];
            size_t o = 0;
            const char *parts[] = {"lowerdir=", cfg->overlay_lowerdirs, ",upperdir=", cfg->overlay_upperdir,
                                   ",workdir=", cfg->overlay_workdir};
            size_t np = cfg->overlay_upperdir ? 6 : 2;
            for (size_t i = 0; i < np; i++) {
                size_t l = str_len(parts[i]);
                if (o + l + 1 >= sizeof data) { errno = E2BIG; fail(c, CSHIM_STEP_MOUNT_ROOTFS, "overlay options"); }
                memcpy(data + o, parts[i], l);
                o += l;
            }
            data[o] = 0;
            if (mount("overlay", cfg->rootfs, "overlay", 0, data) != 0) fail(c, CSHIM_STEP_MOUNT_ROOTFS, cfg->rootfs);
        } else {
            /* pivot_root needs the new root to be a mount point. */
            if (mount(cfg->rootfs, cfg->rootfs, NULL, MS_BIND | MS_REC, NULL) != 0)
                fail(c, CSHIM_STEP_MOUNT_ROOTFS, cfg->rootfs);
        }
        int root_fd = open(cfg->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0) fail(c, CSHIM_STEP_MOUNT_ROOTFS, cfg->rootfs);
        for (size_t i = 0; i < cfg->n_mounts; i++) {
            if (do_mount(root_fd, &cfg->mounts[i]) != 0) fail(c, CSHIM_STEP_MOUNT, cfg->mounts[i].target);
        }
        if (cfg->create_default_devices) {
            if (create_devices(root_fd, (cfg->namespaces & CLONE_NEWUSER) != 0, scratch, sizeof scratch) != 0)
                fail(c, CSHIM_STEP_DEVICES, scratch);
        }
        close(root_fd);
        before_pivot(c);
        if (chdir(cfg->rootfs) != 0) fail(c, CSHIM_STEP_PIVOT_ROOT, cfg->rootfs);
        /* pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only the new. */
        if (syscall(SYS_pivot_root, ".", ".") != 0) fail(c, CSHIM_STEP_PIVOT_ROOT, cfg->rootfs);
        if (umount2(".", MNT_DETACH) != 0) fail(c, CSHIM_STEP_PIVOT_ROOT, "detach old root");
        if (chdir("/") != 0) fail(c, CSHIM_STEP_PIVOT_ROOT, "/");
        /* Before the read-only paths: /proc/sys is one of them. */
        for (size_t i = 0; i < cfg->n_sysctls; i++) {
            if (write_sysctl(cfg->sysctls[i], scratch, sizeof scratch) != 0) fail(c, CSHIM_STEP_SYSCTL, cfg->sysctls[i]);
        }
        for (size_t i = 0; i < cfg->n_readonly_paths; i++) {
            if (readonly_path(cfg->readonly_paths[i]) != 0) fail(c, CSHIM_STEP_READONLY_PATHS, cfg->readonly_paths[i]);
        }
        for (size_t i = 0; i < cfg->n_masked_paths; i++) {
            if (mask_path(cfg->masked_paths[i]) != 0) fail(c, CSHIM_STEP_MASKED_PATHS, cfg->masked_paths[i]);
        }
        if (cfg->rootfs_readonly) {
            if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) != 0) fail(c, CSHIM_STEP_ROOT_READONLY, "/");
        }
    } else if (cfg->rootfs) {
        before_pivot(c);
        if (chroot(cfg->rootfs) != 0 || chdir("/") != 0) fail(c, CSHIM_STEP_PIVOT_ROOT, cfg->rootfs);
    }

    int fds[3] = {cfg->stdin_fd, cfg->stdout_fd, cfg->stderr_fd};
    int devnull = -1;
    for (int i = 0; i < 3; i++) {
        int fd = fds[i];
        if (fd < 0) {
            if (devnull < 0) devnull = open("/dev/null", O_RDWR);
            fd = devnull;
        }
        if (fd >= 0 && dup2(fd, i) < 0) fail(c, CSHIM_STEP_STDIO, NULL);
    }

    /* Nothing of the runtime may stay open while we wait (a held flock would block `start`), nor when the
       process changes into its cwd (a host directory fd there is an escape). */
    {
        int keep[] = {c->report_fd, fifo_path_fd, cfg->start_fd, exec_helper_fd};
        close_fds_except(keep, sizeof keep / sizeof keep[0]);
    }

    for (size_t i = 0; i < cfg->n_rlimits; i++) {
        struct rlimit rl = {(rlim_t)cfg->rlimits[i].soft, (rlim_t)cfg->rlimits[i].hard};
        if (setrlimit(cfg->rlimits[i].resource, &rl) != 0) fail(c, CSHIM_STEP_RLIMITS, NULL);
    }
    if (cfg->oom_score_adj != INT32_MIN) {
        int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        char num[24];
        int v = cfg->oom_score_adj;
        size_t len = 0;
        if (v < 0) num[len++] = '-';
        len += cshim_format_uint(v < 0 ? (unsigned long)(-(long)v) : (unsigned long)v, num + len);
        if (fd < 0 || write(fd, num, len) < 0) fail(c, CSHIM_STEP_OOM_SCORE, NULL);
        close(fd);
    }
    if (cfg->umask >= 0) umask((mode_t)cfg->umask);

    /* Keep capabilities across the uid change; the exact set is applied right after. */
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) fail(c, CSHIM_STEP_CAPABILITIES, "keepcaps");
    int seccomp_loaded = 0;
    if (cfg->seccomp_filter && !cfg->no_new_privileges) {
        /* Without no_new_privs the filter needs CAP_SYS_ADMIN, which we may be about to drop. */
        if (load_seccomp(cfg) != 0) fail(c, CSHIM_STEP_SECCOMP, NULL);
        seccomp_loaded = 1;
    }
    if (drop_bounding_set(cfg) != 0) fail(c, CSHIM_STEP_CAPABILITIES, "bounding set");
    if (syscall(SYS_setgroups, cfg->n_additional_gids, cfg->additional_gids) != 0 && errno != EPERM)
        fail(c, CSHIM_STEP_IDS, "setgroups");
    if (raw_setresgid(cfg->gid) != 0) fail(c, CSHIM_STEP_IDS, "setgid");
    if (raw_setresuid(cfg->uid) != 0) fail(c, CSHIM_STEP_IDS, "setuid");
    if (set_capabilities(cfg) != 0) fail(c, CSHIM_STEP_CAPABILITIES, NULL);
    if (cfg->cwd && chdir(cfg->cwd) != 0) fail(c, CSHIM_STEP_CWD, cfg->cwd);
    if (cwd_is_inside_root() != 0) fail(c, CSHIM_STEP_CWD, cfg->cwd ? cfg->cwd : "(inherited) outside the root");
    if (cfg->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(c, CSHIM_STEP_NO_NEW_PRIVS, NULL);

    if (cfg->exec_fifo || cfg->start_fd >= 0) {
        /* Created: tell the parent setup is done, then wait for `start`. Nobody reads the report pipe after this
           record, so it is closed: while paused the process holds only its stdio and the exec FIFO. */
        report(c->report_fd, CSHIM_STEP_NONE, 0, NULL);
        close(c->report_fd);
        c->report_fd = -1;
        if (cfg->exec_fifo) {
            char fdpath[40];
            fd_path(fifo_path_fd, fdpath);
            /* Blocks until `start` opens the FIFO. The write end stays open (CLOEXEC) until execve: `start` reads
               "0" once the startContainer hooks are done, then EOF once the program runs, and only then runs the
               poststart hooks. */
            int fifo_fd = open(fdpath, O_WRONLY | O_CLOEXEC);
            if (fifo_fd < 0) fail(c, CSHIM_STEP_WAIT_START, cfg->exec_fifo);
            c->exec_fifo_fd = fifo_fd;
        } else {
            char b;
            do { n = read(cfg->start_fd, &b, 1); } while (n < 0 && errno == EINTR);
            if (n != 1) fail(c, CSHIM_STEP_WAIT_START, "start fd closed");
            close(cfg->start_fd);
        }
    }

    if (cfg->n_start_container_hooks > 0) {
        const char *failed = NULL;
        if (run_hooks_inside(c, cfg->start_container_hooks, cfg->n_start_container_hooks,
                             cfg->hook_state_created_suffix ? cfg->hook_state_created_suffix : "", &failed) != 0) {
            /* Nobody reads the report pipe after `create` returned: say it on the container's stderr too. */
            static const char msg[] = "boxbench-runtime: startContainer hook failed: ";
            write_all_fd(2, msg, sizeof msg - 1);
            write_all_fd(2, failed, str_len(failed));
            write_all_fd(2, "\n", 1);
            fail(c, CSHIM_STEP_START_CONTAINER_HOOK, failed);
        }
    }
    if (c->exec_fifo_fd >= 0 && write(c->exec_fifo_fd, "0", 1) != 1) fail(c, CSHIM_STEP_WAIT_START, cfg->exec_fifo);
    if (seccomp_loaded == 0 && cfg->seccomp_filter) {
        if (load_seccomp(cfg) != 0) fail(c, CSHIM_STEP_SECCOMP, NULL);
    }
    const char *exec_detail = NULL;
    exec_program(cfg, &exec_detail);
    fail(c, CSHIM_STEP_EXEC, exec_detail);
}

static int write_file(const char *path, const char *data) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = str_len(data);
    ssize_t w = write(fd, data, len);
    int e = errno;
    close(fd);
    if (w != (ssize_t)len) { errno = w < 0 ? e : EIO; return -1; }
    return 0;
}

/* Reads the child's report: EOF (exec closed the CLOEXEC pipe) or a NONE record (created, waiting for start) is
   success; anything else is the failed step, after which the child is reaped. Closes report_fd. */
static int await_child(int report_fd, pid_t pid, struct cshim_spawn_error *error) {
    struct cshim_spawn_error child_err;
    ssize_t n;
    do { n = read(report_fd, &child_err, sizeof child_err); } while (n < 0 && errno == EINTR);
    close(report_fd);
    if (n == (ssize_t)sizeof child_err && child_err.step != CSHIM_STEP_NONE) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        *error = child_err;
        return -1;
    }
    return 0;
}

/* clone3 can place the child straight into a v2 cgroup (no migration, no global lock); without it the parent
   writes cgroup.procs afterwards. *placed says which happened. */
static pid_t clone_child(const struct cshim_container_config *cfg, int flags, int *placed) {
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = (uint64_t)flags;
    args.exit_signal = SIGCHLD;
    *placed = 0;
    long pid = -1;
    if (cfg->cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)cfg->cgroup_fd;
        pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid >= 0) { *placed = 1; return (pid_t)pid; }
        args.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
        args.cgroup = 0;
    }
    pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0 && (errno == ENOSYS || errno == E2BIG || errno == EINVAL)) {
        pid = syscall(SYS_clone, (unsigned long)flags | SIGCHLD, 0, 0, 0, 0);
    }
    return (pid_t)pid;
}

pid_t cshim_container_spawn(const struct cshim_container_config *cfg, struct cshim_spawn_error *error) {
    memset(error, 0, sizeof *error);
    pthread_once(&exec_helper_once, make_exec_helper);
    int report_pipe[2], go_pipe[2];
    if (pipe2(report_pipe, O_CLOEXEC) != 0) {
        error->step = CSHIM_STEP_CLONE; error->err = errno; return -1;
    }
    if (pipe2(go_pipe, O_CLOEXEC) != 0) {
        error->step = CSHIM_STEP_CLONE; error->err = errno;
        close(report_pipe[0]); close(report_pipe[1]); return -1;
    }
    /* The cgroup namespace is entered by the child after it joined its cgroup. */
    int flags = cfg->namespaces & ~CLONE_NEWCGROUP;
    int placed = 0;
    pid_t pid = clone_child(cfg, flags, &placed);
    if (pid < 0) {
        error->step = CSHIM_STEP_CLONE; error->err = errno;
        close(report_pipe[0]); close(report_pipe[1]); close(go_pipe[0]); close(go_pipe[1]);
        return -1;
    }
    if (pid == 0) {
        close(report_pipe[0]);
        close(go_pipe[1]);
        struct child_ctx c = {cfg, report_pipe[1], go_pipe[0], 0, -1};
        child_main(&c);
    }
    close(report_pipe[1]);
    close(go_pipe[0]);

    int step = 0, err = 0;
    char detail[240] = {0};
    char path[64];
    if (cfg->namespaces & CLONE_NEWUSER) {
        if (cfg->gid_map) {
            snprintf(path, sizeof path, "/proc/%d/setgroups", pid);
            write_file(path, "deny"); /* required before gid_map when unprivileged; harmless as root */
            snprintf(path, sizeof path, "/proc/%d/gid_map", pid);
            if (write_file(path, cfg->gid_map) != 0) { step = CSHIM_STEP_ID_MAPS; err = errno; snprintf(detail, sizeof detail, "%s", path); }
        }
        if (!step && cfg->uid_map) {
            snprintf(path, sizeof path, "/proc/%d/uid_map", pid);
            if (write_file(path, cfg->uid_map) != 0) { step = CSHIM_STEP_ID_MAPS; err = errno; snprintf(detail, sizeof detail, "%s", path); }
        }
    }
    if (!step && !placed) {
        const char *bad = NULL;
        size_t bad_len = 0;
        int rc = cshim_join_cgroups(pid, cfg->cgroup_procs_paths, &bad, &bad_len);
        if (rc < 0) {
            step = CSHIM_STEP_CGROUP; err = -rc;
            if (bad) snprintf(detail, sizeof detail, "%.*s", (int)bad_len, bad);
        }
    }
    if (step) {
        kill(pid, SIGKILL);
        close(go_pipe[1]);
        close(report_pipe[0]);
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        error->step = step; error->err = err;
        memcpy(error->detail, detail, sizeof error->detail);
        return -1;
    }
    ssize_t w;
    do { w = write(go_pipe[1], &pid, sizeof pid); } while (w < 0 && errno == EINTR);
    if (cfg->paused) {
        cfg->paused->report_fd = report_pipe[0];
        cfg->paused->go_fd = go_pipe[1];
        struct cshim_spawn_error child_err;
        ssize_t n;
        do { n = read(report_pipe[0], &child_err, sizeof child_err); } while (n < 0 && errno == EINTR);
        if (n == (ssize_t)sizeof child_err && child_err.step == CSHIM_STEP_PAUSED) {
            error->step = CSHIM_STEP_PAUSED;
            return pid;
        }
        cshim_container_abandon(cfg->paused);
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        if (n == (ssize_t)sizeof child_err) *error = child_err;
        else { error->step = CSHIM_STEP_SYNC; error->err = EPIPE; }
        return -1;
    }
    close(go_pipe[1]);
    return await_child(report_pipe[0], pid, error) == 0 ? pid : -1;
}

void cshim_container_abandon(struct cshim_paused *paused) {
    if (paused->report_fd >= 0) close(paused->report_fd);
    if (paused->go_fd >= 0) close(paused->go_fd);
    paused->report_fd = paused->go_fd = -1;
}

int cshim_container_continue(struct cshim_paused *paused, pid_t pid, struct cshim_spawn_error *error) {
    memset(error, 0, sizeof *error);
    ssize_t w;
    do { w = write(paused->go_fd, "g", 1); } while (w < 0 && errno == EINTR);
    int write_errno = errno;
    close(paused->go_fd);
    paused->go_fd = -1;
    int report_fd = paused->report_fd;
    paused->report_fd = -1;
    if (w != 1) {
        /* The paused child is gone (killed during the runtime hooks): its report, if any, says why. */
        if (await_child(report_fd, pid, error) != 0) return -1;
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        error->step = CSHIM_STEP_SYNC;
        error->err = write_errno;
        return -1;
    }
    return await_child(report_fd, pid, error);
}
