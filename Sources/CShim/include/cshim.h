#ifndef BOXBENCH_CSHIM_H
#define BOXBENCH_CSHIM_H
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

/* ---- small syscall wrappers Glibc does not expose to Swift ---- */

/* statfs(2) f_type of a path, or -1 with errno set. */
long cshim_statfs_magic(const char *path);
/* Copy a seccomp filter context out as classic BPF (struct sock_filter array); caller frees *out. */
int cshim_seccomp_export(void *scmp_ctx, void **out, size_t *out_len);
/* kill(2) through a pidfd-free path; sends sig to every pid listed in a cgroup.procs file. */
int cshim_kill_cgroup_procs(const char *procs_path, int sig);
/* Become a child subreaper so orphans (QEMU, container grandchildren) are reaped by us, not PID 1. */
int cshim_set_child_subreaper(void);
/* wait4(2) with rusage: returns pid, fills status and maxrss (KiB), user/sys µs. */
pid_t cshim_wait4(pid_t pid, int *status, int options, long *maxrss_kb, long *utime_us, long *stime_us);
/* pidfd_open(2): a pollable handle that becomes readable when the process exits. */
int cshim_pidfd_open(pid_t pid);
/* pipe2(O_CLOEXEC): no fd may leak into a container or a peer runtime. */
int cshim_pipe_cloexec(int fds[2]);
/* Launches a host program (native arm, peer runtimes, hooks): argv/envp NULL-terminated, stdio fds dup'ed in,
   joined by itself (cshim_self_join_cgroups) to the listed cgroup files before exec; optionally in a private mount
   namespace with one mount detached first (the crun hybrid-cgroup workaround); optionally chrooted into `root_dir`
   and changed into `cwd` (the native arm: the image's files, no namespaces). `path` is then inside the root. `pidfd_out` (optional): a pidfd from
   clone itself (-1 on kernels without CLONE_PIDFD). `started_ns` (optional): CLOCK_MONOTONIC read right before
   clone, after the launcher's own preparation — where a launch measurement starts. */
pid_t cshim_spawn_process(const char *path, char *const argv[], char *const envp[], int in_fd, int out_fd,
                          int err_fd, const char *cgroup_join_paths, int private_mount_ns,
                          const char *detach_mount, const char *root_dir, const char *cwd, int *pidfd_out,
                          uint64_t *started_ns, int *err_out);

/* open(2) of `path` inside the directory `root` with openat2 RESOLVE_IN_ROOT (symlinks and ".." stay inside);
   -1 with errno set. */
int cshim_open_in_root(const char *root, const char *path, int flags);
/* open(2) of `path` below `root` refusing any symlink on the way (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): ELOOP. */
int cshim_open_beneath_no_symlinks(const char *root, const char *path, int flags);

/* Capability probes for `boxbench doctor`: 0 on success, else errno. */
int cshim_probe_userns(void);
/* dir must hold empty subdirectories l1 l2 u w m. */
int cshim_probe_overlay(const char *dir);

/* ---- network namespaces (netns.c): 0 or -errno ---- */
/* A new network namespace pinned by a bind mount on `path` (created, must not exist), like `ip netns add`. */
int cshim_netns_create(const char *path);
/* Unmounts and unlinks a pinned namespace. */
int cshim_netns_remove(const char *path);
/* The calling thread enters the namespace pinned at `path` (what it clones meanwhile is born there); *saved_fd
   holds the thread's previous one for cshim_netns_leave. */
int cshim_netns_enter(const char *path, int *saved_fd);
int cshim_netns_leave(int saved_fd);

/* ---- CPU affinity of the calling thread (affinity.c): 0 or -errno ---- */
struct cshim_cpu_mask { unsigned long bytes[16]; }; /* room for a cpu_set_t (1024 CPUs) */
int cshim_thread_pin(int cpu, struct cshim_cpu_mask *saved);
int cshim_thread_unpin(const struct cshim_cpu_mask *saved);

/* ---- container process creation: everything between clone and exec ---- */

struct cshim_mount {
    const char *source;
    const char *target;   /* absolute path inside the new root, resolved against rootfs before pivot */
    const char *fstype;
    unsigned long flags;  /* MS_* */
    const char *data;
    int propagation;      /* extra MS_PRIVATE/MS_SLAVE/MS_SHARED applied after mounting, or 0 */
    int is_file;          /* bind of a file: the target is created as an empty file */
};

struct cshim_rlimit {
    int resource;
    uint64_t soft;
    uint64_t hard;
};

struct cshim_container_config {
    char *const *argv;
    char *const *envp;
    const char *path_env;  /* PATH used to resolve argv[0] when it has no slash */
    const char *cwd;
    uint32_t uid;
    uint32_t gid;
    const uint32_t *additional_gids;
    size_t n_additional_gids;
    int umask;             /* -1: leave */

    int namespaces;        /* CLONE_NEW* flags */
    const char *hostname;  /* NULL: leave */
    const char *domainname;

    const char *rootfs;    /* absolute host path of the root */
    int rootfs_readonly;
    /* If lowerdirs is set, an overlay is mounted on rootfs inside the new mount namespace. */
    const char *overlay_lowerdirs; /* colon-separated, top-most first */
    const char *overlay_upperdir;
    const char *overlay_workdir;

    const struct cshim_mount *mounts;
    size_t n_mounts;
    int create_default_devices;   /* null zero full random urandom tty + /dev symlinks */
    char *const *masked_paths;
    size_t n_masked_paths;
    char *const *readonly_paths;
    size_t n_readonly_paths;

    uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
    int no_new_privileges;
    const void *seccomp_filter;   /* struct sock_filter[], or NULL */
    size_t seccomp_filter_len;    /* bytes */
    const struct cshim_rlimit *rlimits;
    size_t n_rlimits;
    int oom_score_adj;            /* INT32_MIN: leave */

    const char *uid_map;          /* written by the parent when CLONE_NEWUSER is requested */
    const char *gid_map;
    /* newline-separated files the child writes "0" into first thing (v1 `tasks`: see cshim_self_join_cgroups) */
    const char *cgroup_join_paths;
    int cgroup_fd;                /* v2 directory fd for clone3 CLONE_INTO_CGROUP, or -1 */
    /* newline-separated cgroup.procs files the parent writes the child's pid into when clone3 could not place it
       with cgroup_fd (or when there is no cgroup_fd) */
    const char *cgroup_procs_paths;

    int stdin_fd, stdout_fd, stderr_fd;  /* -1: /dev/null */
    /* create/start split: if set, the child reports "ready" and opens this FIFO for writing (blocks until
       `start` opens it for reading) before exec. */
    const char *exec_fifo;
    /* in-process variant: if >= 0 the child blocks reading one byte from this fd before exec. */
    int start_fd;

    /* OCI hooks (runtime-spec lifecycle). If `paused` is set, the child stops before pivot_root and
       cshim_container_spawn returns its pid with *paused filled (error->step == CSHIM_STEP_PAUSED). The child then
       runs create_container_hooks (container namespaces, host paths still visible), and, once started,
       start_container_hooks (after pivot_root, right before exec). Each hook gets the OCI state on stdin:
       hook_state_prefix + the container's host pid + the creating/created suffix. */
    struct cshim_paused *paused;
    const struct cshim_hook *create_container_hooks;
    size_t n_create_container_hooks;
    const struct cshim_hook *start_container_hooks;
    size_t n_start_container_hooks;
    const char *hook_state_prefix;
    const char *hook_state_creating_suffix;
    const char *hook_state_created_suffix;
    /* linux.sysctl as "key=value" (validated as namespaced by the caller), written after pivot_root */
    char *const *sysctls;
    size_t n_sysctls;
};

/* One OCI hook run inside the container (createContainer, startContainer): argv/envp NULL-terminated. */
struct cshim_hook {
    const char *path;
    char *const *argv;
    char *const *envp;
    int timeout_s;                /* <= 0: no timeout */
};

/* A child paused before pivot_root so the caller can run the runtime-namespace hooks (prestart, createRuntime):
   then cshim_container_continue, or cshim_container_abandon and kill. */
struct cshim_paused {
    int report_fd;
    int go_fd;
};

/* Steps a child can fail at, reported to the parent with errno. */
enum cshim_step {
    CSHIM_STEP_NONE = 0,
    CSHIM_STEP_CLONE, CSHIM_STEP_SYNC, CSHIM_STEP_ID_MAPS, CSHIM_STEP_CGROUP, CSHIM_STEP_SETSID,
    CSHIM_STEP_HOSTNAME, CSHIM_STEP_MOUNT_PRIVATE, CSHIM_STEP_MOUNT_ROOTFS, CSHIM_STEP_MOUNT,
    CSHIM_STEP_DEVICES, CSHIM_STEP_PIVOT_ROOT, CSHIM_STEP_MASKED_PATHS, CSHIM_STEP_READONLY_PATHS,
    CSHIM_STEP_ROOT_READONLY, CSHIM_STEP_CGROUP_NS, CSHIM_STEP_RLIMITS, CSHIM_STEP_CWD, CSHIM_STEP_IDS,
    CSHIM_STEP_CAPABILITIES, CSHIM_STEP_NO_NEW_PRIVS, CSHIM_STEP_SECCOMP, CSHIM_STEP_STDIO,
    CSHIM_STEP_WAIT_START, CSHIM_STEP_EXEC, CSHIM_STEP_OOM_SCORE, CSHIM_STEP_CREATE_CONTAINER_HOOK,
    CSHIM_STEP_START_CONTAINER_HOOK, CSHIM_STEP_PAUSED, CSHIM_STEP_SYSCTL
};

struct cshim_spawn_error {
    int step;               /* enum cshim_step */
    int err;                /* errno */
    char detail[240];       /* path or argument the step was working on */
};

/* Returns the child's host pid, or -1 with *error filled. On success the child has exec'd (or, with
   exec_fifo/start_fd, is waiting before exec with everything else set up). */
pid_t cshim_container_spawn(const struct cshim_container_config *config, struct cshim_spawn_error *error);
/* Releases a paused child (see `paused`): 0 once it exec'd or waits for start, else -1 with *error filled and the
   child reaped. Closes the paused fds either way. */
int cshim_container_continue(struct cshim_paused *paused, pid_t pid, struct cshim_spawn_error *error);
/* Closes a paused child's fds without releasing it (the caller kills it). */
void cshim_container_abandon(struct cshim_paused *paused);
const char *cshim_step_name(int step);
/* 1 when container programs are exec'd through the sealed in-memory helper (x86-64, memfd exec allowed): what
   /proc/self/exe shows a container process is then never the host's binary. */
int cshim_exec_helper_available(void);

/* ---- device cgroup (v2): one rule as DeviceRules builds it ---- */
struct cshim_device_rule {
    int allow;
    int type;    /* 0 all, 1 block, 2 char (BPF_DEVCG_DEV_*) */
    int major;   /* -1: any */
    int minor;   /* -1: any */
    int access;  /* BPF_DEVCG_ACC_* bits: 1 mknod, 2 read, 4 write */
};
/* Loads a BPF_PROG_TYPE_CGROUP_DEVICE program for `rules` (last match wins, default deny) and attaches it to the v2
   group open at cgroup_fd (BPF_F_ALLOW_MULTI). 0, -errno of the attach, or -(errno + CSHIM_BPF_LOAD_FAILED) when the
   kernel refused the program itself. */
#define CSHIM_BPF_LOAD_FAILED 4096
int cshim_attach_device_filter(int cgroup_fd, const struct cshim_device_rule *rules, size_t n_rules);
/* How many device programs are attached to the v2 group itself (BPF_PROG_QUERY), or -errno. */
int cshim_count_device_programs(int cgroup_fd);

#endif
