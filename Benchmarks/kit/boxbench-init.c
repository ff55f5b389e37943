/*
 * boxbench-init — static PID 1 for the boxbench VM guest.
 *
 * Sequence: mount /proc /sys /dev (devtmpfs, else mknod console/null/ttyS0) -> fds 0,1,2 on the
 * console -> load modules -> optional switch to a disk root -> tmpfs on /tmp and /run -> run the
 * workload -> report exit and guest memory -> sync, power off.  Any failure is reported and the
 * guest still powers off; main never returns (a PID 1 exit panics the kernel).
 *
 * CONSOLE LINES (parsed by the Swift side from the serial console).  Each is written with a single
 * write(2) and ends in "\n" (the tty may add "\r"; kernel printk can interleave on a serial line,
 * so match the "BOXBENCH-" token anywhere in a line rather than anchoring at column 0):
 *
 *   BOXBENCH-MARK init t_mono_ns=<u64> t_boot_ns=<u64>            (clocks read on entry to main)
 *   BOXBENCH-MARK modules loaded=<n> failed=<n> t_mono_ns=<u64> t_boot_ns=<u64>   (only if a module list exists)
 *   BOXBENCH-MARK root device=<path> t_mono_ns=<u64> t_boot_ns=<u64>              (only after a switch to a disk root)
 *   BOXBENCH-MARK workload-start t_mono_ns=<u64> t_boot_ns=<u64>  (just before fork)
 *   BOXBENCH-MARK workload-exit code=<0..255> t_mono_ns=<u64> t_boot_ns=<u64>
 *   BOXBENCH-MARK workload-exit signal=<n> t_mono_ns=<u64> t_boot_ns=<u64>
 *   BOXBENCH-MEM memtotal_kb=<u64> memavailable_kb=<u64>          (/proc/meminfo, after the workload)
 *   BOXBENCH-MARK poweroff t_mono_ns=<u64> t_boot_ns=<u64>
 *   BOXBENCH-WARN module=<path> errno=<ENAME>                     (module failed to load; boot goes on)
 *   BOXBENCH-WARN step=<step> errno=<ENAME>                       (non-fatal setup problem)
 *   BOXBENCH-ERROR step=<step> errno=<ENAME> [line=<n>]           (fatal for the workload; guest powers off)
 * t_mono_ns is CLOCK_MONOTONIC and t_boot_ns CLOCK_BOOTTIME of the guest, in ns.  ENAME is a
 * symbolic errno ("ENOENT"), or "E<number>" for one not in the table.  If exec fails the exit
 * marker says code=127 after an ERROR line with step=exec (or chdir/setgroups/setgid/setuid).
 *
 * FILES READ (all optional except the workload spec):
 *   /etc/boxbench/modules      one module path per line, relative to / (".ko", uncompressed); loaded in
 *                              order with finit_module; EEXIST is fine.  Blank lines and "#..." skipped.
 *   /etc/boxbench/root-device  "<device> [fstype]", e.g. "/dev/vda" (fstype defaults to ext4): wait up
 *                              to 5 s for the device, mount it on /newroot, move /dev /proc /sys into
 *                              it, free the initramfs, switch root; everything below is read there.
 *   /etc/boxbench/os-init      (full-OS guests) the OS's own init, e.g. "/lib/systemd/systemd": read before the
 *                              switch to the disk root, then exec'd there as PID 1 instead of running the
 *                              workload (marker: BOXBENCH-MARK os-init ...); the OS starts the workload as a
 *                              unit that runs this binary again (see below).
 *   /etc/boxbench/workload     the workload spec, one "key=value" per line, value = rest of the line:
 *       arg=<value>            argv element, repeated, in order; the first is the program.  If it has
 *                              no '/', it is searched in the spec's PATH (env=PATH=...), else in
 *                              /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
 *       env=<KEY>=<VALUE>      environment entry, repeated, in order (the environment is exactly these)
 *       cwd=<path>             working directory (default /)
 *       uid=<n>  gid=<n>       numeric ids to run as (supplementary groups are cleared when either is set)
 *       net=<a.b.c.d>/<prefix> bring lo and eth0 up, eth0 with this address (a bench network's NIC;
 *                              waits up to 5 s for eth0 to appear).  Marker: BOXBENCH-MARK net-up ...
 *       volume=<device> <dir>  mount the data volume (ext4, e.g. "/dev/vdb /data") before the workload
 *                              starts, waiting up to 5 s for the device.  Marker: BOXBENCH-MARK volume ...
 *     Values may hold any byte except newline and NUL; the producer rejects values with a newline and
 *     escapes nothing else.  Empty lines and lines starting with '#' are ignored; an unknown key, a
 *     NUL byte, no arg= line, or an env= without '=' is an error (step=workload-spec, line=<n>).
 *
 * Run as a process other than PID 1 (a test on a host), it mounts nothing, loads nothing, reads the
 * spec from $BOXBENCH_INIT_SPEC if set, and exits with the workload's status instead of powering off.
 * With $BOXBENCH_INIT_UNIT set (the full-OS guest's workload unit) its first marker is "unit-start"
 * instead of "init", so the OS's boot shows as the span from os-init to unit-start, and it powers the guest
 * off itself after its last marker.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>

#define SPEC_MAX (1024 * 1024)
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static int is_pid1;

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static const char *errno_name(int e)
{
    static char buf[16];
    switch (e) {
#define E(x) case x: return #x;
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(ENOEXEC) E(EBADF) E(ECHILD)
    E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(ENOTBLK) E(EBUSY) E(EEXIST) E(EXDEV) E(ENODEV)
    E(ENOTDIR) E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOTTY) E(ETXTBSY) E(EFBIG) E(ENOSPC)
    E(EROFS) E(EMLINK) E(ERANGE) E(ENAMETOOLONG) E(ENOSYS) E(ELOOP) E(ENODATA) E(EOPNOTSUPP)
    E(ETIMEDOUT) E(EUCLEAN) E(EKEYREJECTED) E(ENOKEY) E(EBADMSG)
#undef E
    default:
        snprintf(buf, sizeof buf, "E%d", e);
        return buf;
    }
}

/* One write(2) per line so lines from init and the workload never interleave mid-line. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof buf - 2)
        n = sizeof buf - 2;
    buf[n++] = '\n';
    for (char *p = buf; n > 0;) {
        ssize_t w = write(1, p, (size_t)n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (int)w;
    }
}

static void mark_at(const char *what, uint64_t mono, uint64_t boot)
{
    say("BOXBENCH-MARK %s t_mono_ns=%" PRIu64 " t_boot_ns=%" PRIu64, what, mono, boot);
}

static void mark(const char *what)
{
    uint64_t mono = clock_ns(CLOCK_MONOTONIC); /* read in a fixed order: argument evaluation order is unspecified */
    mark_at(what, mono, clock_ns(CLOCK_BOOTTIME));
}

static void error_step(const char *step, int e) { say("BOXBENCH-ERROR step=%s errno=%s", step, errno_name(e)); }

static void warn_step(const char *step, int e) { say("BOXBENCH-WARN step=%s errno=%s", step, errno_name(e)); }

static void power_off(void) __attribute__((noreturn));
static void power_off(void)
{
    mark("poweroff");
    sync();
    if (isatty(1))
        tcdrain(1); /* let the UART send the last lines before the machine disappears */
    if (!is_pid1)
        exit(0);
    reboot(RB_POWER_OFF);
    error_step("poweroff", errno);
    for (;;)
        pause();
}

/* A directory is a mount point if it sits on another device than its parent (or is /). */
static int is_mountpoint(const char *path)
{
    struct stat a, b;
    char parent[512];
    snprintf(parent, sizeof parent, "%s/..", path);
    if (stat(path, &a) != 0 || stat(parent, &b) != 0)
        return 0;
    return a.st_dev != b.st_dev || a.st_ino == b.st_ino;
}

/* Returns 0 or an errno; an existing mount on target counts as done (moved mounts, automounted /dev). */
static int mount_fs(const char *src, const char *target, const char *type, unsigned long flags, const char *data)
{
    if (mkdir(target, 0755) != 0 && errno != EEXIST)
        return errno;
    if (is_mountpoint(target))
        return 0;
    return mount(src, target, type, flags, data) == 0 ? 0 : errno;
}

struct pending {
    const char *step;
    int err;
};

/* Mounts /proc /sys /dev before the console exists; failures are returned for reporting later. */
static int mount_basics(struct pending *out, int cap)
{
    int n = 0, e;
    if ((e = mount_fs("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) && n < cap)
        out[n++] = (struct pending){"mount:/proc", e};
    if ((e = mount_fs("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) && n < cap)
        out[n++] = (struct pending){"mount:/sys", e};
    if ((e = mount_fs("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755"))) {
        if (n < cap)
            out[n++] = (struct pending){"mount:/dev", e};
        mknod("/dev/console", S_IFCHR | 0600, makedev(5, 1));
        mknod("/dev/null", S_IFCHR | 0666, makedev(1, 3));
        mknod("/dev/ttyS0", S_IFCHR | 0600, makedev(4, 64));
    }
    return n;
}

static void ensure_console(void)
{
    int missing = 0;
    for (int i = 0; i < 3; i++)
        missing |= fcntl(i, F_GETFD) < 0;
    if (!missing)
        return;
    int fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd < 0)
        fd = open("/dev/ttyS0", O_RDWR | O_NOCTTY);
    if (fd < 0)
        return; /* nowhere to print; carry on so the guest still runs the workload and powers off */
    for (int i = 0; i < 3; i++)
        if (fcntl(i, F_GETFD) < 0)
            dup2(fd, i);
    if (fd > 2)
        close(fd);
}

/* Reads a whole file (up to SPEC_MAX) into a NUL-terminated malloc'd buffer; NULL + errno on failure. */
static char *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *buf = malloc(SPEC_MAX + 1);
    size_t n = 0;
    if (!buf) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, SPEC_MAX + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            free(buf);
            errno = e;
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > SPEC_MAX) {
            close(fd);
            free(buf);
            errno = EFBIG;
            return NULL;
        }
    }
    close(fd);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Returns the next line of [*cursor, end) with its newline replaced by NUL, and its length; NULL at the end. */
static char *next_line(char **cursor, char *end, size_t *n)
{
    if (*cursor >= end)
        return NULL;
    char *line = *cursor, *nl = memchr(line, '\n', (size_t)(end - line));
    if (nl) {
        *nl = '\0';
        *cursor = nl + 1;
    } else {
        *cursor = end;
    }
    *n = (size_t)((nl ? nl : end) - line);
    return line;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static void load_modules(void)
{
    size_t len;
    char *buf = read_file("/etc/boxbench/modules", &len);
    if (!buf) {
        if (errno != ENOENT)
            warn_step("modules-list", errno);
        return;
    }
    int loaded = 0, failed = 0;
    char *cur = buf, *end = buf + len, *line;
    size_t n;
    while ((line = next_line(&cur, end, &n))) {
        line = trim(line);
        if (!*line || *line == '#')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s%s", *line == '/' ? "" : "/", line);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        int e = 0;
        if (fd < 0)
            e = errno;
        else if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
            e = errno;
        if (fd >= 0)
            close(fd);
        if (e) {
            say("BOXBENCH-WARN module=%s errno=%s", line, errno_name(e));
            failed++;
        } else {
            loaded++;
        }
    }
    free(buf);
    char what[64];
    snprintf(what, sizeof what, "modules loaded=%d failed=%d", loaded, failed);
    mark(what);
}

/* Deletes the old root's files so the initramfs stops holding RAM; never crosses into another filesystem. */
static void remove_tree(int dirfd, dev_t rootdev)
{
    DIR *d = fdopendir(dirfd);
    if (!d) {
        close(dirfd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_dev != rootdev)
            continue;
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                remove_tree(sub, rootdev);
            unlinkat(dirfd, de->d_name, AT_REMOVEDIR);
        } else {
            unlinkat(dirfd, de->d_name, 0);
        }
    }
    closedir(d);
}

/* Returns 0 when there was nothing to do or the switch worked; -1 after reporting a fatal error. */
static int switch_root(void)
{
    size_t len;
    char *buf = read_file("/etc/boxbench/root-device", &len);
    if (!buf) {
        if (errno == ENOENT)
            return 0;
        error_step("root-device-file", errno);
        return -1;
    }
    size_t n;
    char *cur = buf, *line = next_line(&cur, buf + len, &n);
    char dev[256] = "", fstype[32] = "ext4";
    if (line)
        sscanf(line, "%255s %31s", dev, fstype);
    free(buf);
    if (!dev[0]) {
        error_step("root-device-file", EINVAL);
        return -1;
    }

    /* The disk's driver may still be probing: poll for the node, making it from sysfs if /dev is static. */
    uint64_t deadline = clock_ns(CLOCK_MONOTONIC) + 5000000000ULL;
    struct stat st;
    while (stat(dev, &st) != 0) {
        char sys[512], num[32];
        const char *base = strrchr(dev, '/') ? strrchr(dev, '/') + 1 : dev;
        snprintf(sys, sizeof sys, "/sys/class/block/%s/dev", base);
        int fd = open(sys, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t n = read(fd, num, sizeof num - 1);
            unsigned maj, min;
            close(fd);
            if (n > 0 && (num[n] = '\0', sscanf(num, "%u:%u", &maj, &min) == 2))
                mknod(dev, S_IFBLK | 0600, makedev(maj, min));
        }
        if (stat(dev, &st) == 0)
            break;
        if (clock_ns(CLOCK_MONOTONIC) > deadline) {
            error_step("root-device-wait", ENOENT);
            return -1;
        }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }

    if (mkdir("/newroot", 0755) != 0 && errno != EEXIST) {
        error_step("mkdir:/newroot", errno);
        return -1;
    }
    if (mount(dev, "/newroot", fstype, 0, NULL) != 0) {
        error_step("mount-root", errno);
        return -1;
    }
    static const char *const moves[] = {"/dev", "/proc", "/sys"};
    for (size_t i = 0; i < sizeof moves / sizeof *moves; i++) {
        char target[64], step[64];
        snprintf(target, sizeof target, "/newroot%s", moves[i]);
        mkdir(target, 0755);
        if (mount(moves[i], target, NULL, MS_MOVE, NULL) != 0) {
            snprintf(step, sizeof step, "move:%s", moves[i]);
            warn_step(step, errno); /* mount_basics() mounts it afresh in the new root */
        }
    }
    if (chdir("/newroot") != 0) {
        error_step("chdir:/newroot", errno);
        return -1;
    }
    struct statfs sfs;
    struct stat rootst, newst;
    if (statfs("/", &sfs) == 0 && (sfs.f_type == RAMFS_MAGIC || sfs.f_type == TMPFS_MAGIC) &&
        stat("/", &rootst) == 0 && stat(".", &newst) == 0 && rootst.st_dev != newst.st_dev) {
        int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
            remove_tree(fd, rootst.st_dev);
    }
    if (mount(".", "/", NULL, MS_MOVE, NULL) != 0) {
        error_step("move-root", errno);
        return -1;
    }
    if (chroot(".") != 0 || chdir("/") != 0) {
        error_step("chroot", errno);
        return -1;
    }
    char what[300];
    snprintf(what, sizeof what, "root device=%s", dev);
    mark(what);
    return 0;
}

struct spec {
    char **argv, **envp;
    int argc, envc;
    const char *cwd;
    uid_t uid;
    gid_t gid;
    int has_uid, has_gid;
    const char *net; /* "a.b.c.d/prefix" or NULL */
    char *volume; /* "<device> <dir>" or NULL */
};

static int parse_id(const char *s, unsigned long *out)
{
    char *end;
    errno = 0;
    *out = strtoul(s, &end, 10);
    return *s >= '0' && *s <= '9' && !*end && !errno && *out <= 0xfffffffeUL ? 0 : -1;
}

/* Parses the spec in place (values point into buf); on error reports and returns -1. */
static int parse_spec(char *buf, size_t len, struct spec *sp)
{
    memset(sp, 0, sizeof *sp);
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    sp->argv = calloc(lines + 1, sizeof *sp->argv);
    sp->envp = calloc(lines + 1, sizeof *sp->envp);
    if (!sp->argv || !sp->envp) {
        error_step("workload-spec", ENOMEM);
        return -1;
    }
    char *cur = buf, *end = buf + len, *line;
    size_t linelen;
    int no = 0;
    while ((line = next_line(&cur, end, &linelen))) {
        no++;
        if (strlen(line) != linelen)
            goto bad; /* a NUL byte inside the line */
        if (!*line || *line == '#')
            continue;
        char *eq = strchr(line, '=');
        if (!eq)
            goto bad;
        *eq = '\0';
        char *v = eq + 1;
        unsigned long id;
        if (!strcmp(line, "arg")) {
            sp->argv[sp->argc++] = v;
        } else if (!strcmp(line, "env")) {
            if (!strchr(v, '=') || *v == '=')
                goto bad;
            sp->envp[sp->envc++] = v;
        } else if (!strcmp(line, "cwd")) {
            sp->cwd = v;
        } else if (!strcmp(line, "net")) {
            sp->net = v;
        } else if (!strcmp(line, "volume")) {
            if (!strchr(v, ' '))
                goto bad;
            sp->volume = v;
        } else if (!strcmp(line, "uid")) {
            if (parse_id(v, &id))
                goto bad;
            sp->uid = (uid_t)id;
            sp->has_uid = 1;
        } else if (!strcmp(line, "gid")) {
            if (parse_id(v, &id))
                goto bad;
            sp->gid = (gid_t)id;
            sp->has_gid = 1;
        } else {
            goto bad;
        }
    }
    if (sp->argc == 0 || !sp->argv[0][0]) {
        say("BOXBENCH-ERROR step=workload-spec errno=EINVAL line=0");
        return -1;
    }
    return 0;
bad:
    say("BOXBENCH-ERROR step=workload-spec errno=EINVAL line=%d", no);
    return -1;
}

/* Sets an interface's flags up (and, for eth0, its IPv4 address and netmask) with the classic ioctls. */
static int if_up(int sock, const char *name, const struct in_addr *addr, unsigned prefix)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (addr) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
        sin->sin_family = AF_INET;
        sin->sin_addr = *addr;
        if (ioctl(sock, SIOCSIFADDR, &ifr) != 0)
            return errno;
        sin->sin_addr.s_addr = htonl(prefix == 0 ? 0 : 0xffffffffu << (32 - prefix));
        if (ioctl(sock, SIOCSIFNETMASK, &ifr) != 0)
            return errno;
    }
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) != 0)
        return errno;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    return ioctl(sock, SIOCSIFFLAGS, &ifr) != 0 ? errno : 0;
}

/* "<device> <dir>": waits up to 5 s for the device (a virtio disk may appear after init starts), mounts it. */
static int volume_up(char *spec)
{
    char *dir = strchr(spec, ' ');
    *dir++ = '\0';
    struct stat st;
    for (int i = 0; i < 500 && stat(spec, &st) != 0; i++) {
        struct timespec t = {0, 10000000};
        nanosleep(&t, NULL);
    }
    int e = mount_fs(spec, dir, "ext4", MS_NOATIME, NULL);
    if (e) {
        error_step("volume", e);
        return -1;
    }
    mark("volume");
    return 0;
}

static int net_up(const char *spec)
{
    char text[32];
    const char *slash = strchr(spec, '/');
    size_t n = slash ? (size_t)(slash - spec) : 0;
    struct in_addr addr;
    char *end;
    unsigned long prefix = slash ? strtoul(slash + 1, &end, 10) : 0;
    if (!slash || n >= sizeof text || !slash[1] || *end || prefix == 0 || prefix > 32) {
        error_step("net-spec", EINVAL);
        return -1;
    }
    memcpy(text, spec, n);
    text[n] = '\0';
    if (inet_pton(AF_INET, text, &addr) != 1) {
        error_step("net-spec", EINVAL);
        return -1;
    }
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        error_step("net-socket", errno);
        return -1;
    }
    int e = if_up(sock, "lo", NULL, 0);
    if (e)
        warn_step("net-lo", e);
    /* virtio_net probes asynchronously after its module loads. */
    for (int i = 0; i < 500 && !if_nametoindex("eth0"); i++)
        usleep(10000);
    if ((e = if_up(sock, "eth0", &addr, (unsigned)prefix)) != 0) {
        close(sock);
        error_step("net-eth0", e);
        return -1;
    }
    close(sock);
    mark("net-up");
    return 0;
}

struct child_failure {
    int step; /* index into child_steps */
    int err;
};
static const char *const child_steps[] = {"chdir", "setgroups", "setgid", "setuid", "exec"};

static void child_fail(int pipefd, int step, int err) __attribute__((noreturn));
static void child_fail(int pipefd, int step, int err)
{
    struct child_failure f = {step, err};
    if (write(pipefd, &f, sizeof f) < 0) {
        /* nothing more to do: the parent still sees exit code 127 */
    }
    _exit(127);
}

/* Runs in the forked child: drop to the spec's ids and cwd, then exec. */
static void child_exec(const struct spec *sp, int pipefd) __attribute__((noreturn));
static void child_exec(const struct spec *sp, int pipefd)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (chdir(sp->cwd && *sp->cwd ? sp->cwd : "/") != 0)
        child_fail(pipefd, 0, errno);
    if ((sp->has_uid || sp->has_gid) && setgroups(0, NULL) != 0)
        child_fail(pipefd, 1, errno);
    if (sp->has_gid && setgid(sp->gid) != 0)
        child_fail(pipefd, 2, errno);
    if (sp->has_uid && setuid(sp->uid) != 0)
        child_fail(pipefd, 3, errno);

    const char *prog = sp->argv[0];
    if (strchr(prog, '/')) {
        execve(prog, sp->argv, sp->envp);
        child_fail(pipefd, 4, errno);
    }
    const char *path = DEFAULT_PATH;
    for (int i = 0; i < sp->envc; i++)
        if (!strncmp(sp->envp[i], "PATH=", 5))
            path = sp->envp[i] + 5;
    int err = ENOENT;
    for (const char *p = path;; p++) {
        const char *colon = strchr(p, ':');
        size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
        char full[4096];
        /* An empty PATH element means the current directory, as in execvp. */
        if (snprintf(full, sizeof full, "%.*s%s%s", (int)dlen, p, dlen ? "/" : "", prog) < (int)sizeof full) {
            execve(full, sp->argv, sp->envp);
            if (errno == EACCES)
                err = EACCES; /* like execvp: report EACCES if some candidate existed but was not executable */
            else if (errno != ENOENT && errno != ENOTDIR && err != EACCES)
                err = errno;
        }
        if (!colon)
            break;
        p = colon;
    }
    child_fail(pipefd, 4, err);
}

static void report_meminfo(void)
{
    size_t len;
    char *buf = read_file("/proc/meminfo", &len);
    if (!buf) {
        error_step("meminfo", errno);
        return;
    }
    unsigned long long total = 0, avail = 0;
    char *p;
    if ((p = strstr(buf, "MemTotal:")))
        sscanf(p + 9, "%llu", &total);
    if ((p = strstr(buf, "MemAvailable:")))
        sscanf(p + 13, "%llu", &avail);
    free(buf);
    say("BOXBENCH-MEM memtotal_kb=%llu memavailable_kb=%llu", total, avail);
}

/* Runs the workload; returns its wait status or -1 if it never started. */
static int run_workload(const char *spec_path)
{
    size_t len;
    char *buf = read_file(spec_path, &len);
    if (!buf) {
        error_step("workload-spec", errno);
        return -1;
    }
    struct spec sp;
    if (parse_spec(buf, len, &sp) != 0)
        return -1;

    if (sp.net && net_up(sp.net) != 0)
        return -1;
    if (sp.volume && volume_up(sp.volume) != 0)
        return -1;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        error_step("pipe", errno);
        return -1;
    }
    mark("workload-start");
    pid_t pid = fork();
    if (pid < 0) {
        error_step("fork", errno);
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        close(pfd[0]);
        child_exec(&sp, pfd[1]);
    }
    close(pfd[1]);
    struct child_failure f;
    ssize_t r;
    while ((r = read(pfd[0], &f, sizeof f)) < 0 && errno == EINTR)
        ;
    close(pfd[0]);
    if (r == (ssize_t)sizeof f && f.step >= 0 && f.step < (int)(sizeof child_steps / sizeof *child_steps))
        error_step(child_steps[f.step], f.err);

    int status = 0;
    for (;;) {
        /* PID 1 adopts orphans: reap whatever exits until our own child does. */
        pid_t w = waitpid(-1, &status, 0);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            error_step("wait", errno);
            return -1;
        }
    }
    uint64_t mono = clock_ns(CLOCK_MONOTONIC), boot = clock_ns(CLOCK_BOOTTIME);
    char what[64];
    if (WIFSIGNALED(status))
        snprintf(what, sizeof what, "workload-exit signal=%d", WTERMSIG(status));
    else
        snprintf(what, sizeof what, "workload-exit code=%d", WEXITSTATUS(status));
    mark_at(what, mono, boot);
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    free(sp.argv);
    free(sp.envp);
    free(buf);
    return status;
}

int main(void)
{
    uint64_t mono0 = clock_ns(CLOCK_MONOTONIC), boot0 = clock_ns(CLOCK_BOOTTIME);
    is_pid1 = getpid() == 1;
    umask(022);

    struct pending pend[4];
    int npend = is_pid1 ? mount_basics(pend, 4) : 0;
    ensure_console();
    say("%s", ""); /* firmware escape codes leave the cursor mid-line: start the first marker on a fresh line */
    mark_at(getenv("BOXBENCH_INIT_UNIT") ? "unit-start" : "init", mono0, boot0);
    for (int i = 0; i < npend; i++)
        warn_step(pend[i].step, pend[i].err);

    const char *spec_path = "/etc/boxbench/workload";
    if (is_pid1) {
        /* Read before the switch frees the initramfs that holds it. */
        char os_init[256] = "";
        size_t os_len;
        char *os_text = read_file("/etc/boxbench/os-init", &os_len);
        if (os_text) {
            size_t n = strcspn(os_text, "\n");
            if (n < sizeof os_init)
                memcpy(os_init, os_text, n), os_init[n] = 0;
            free(os_text);
        }
        load_modules();
        if (switch_root() != 0)
            power_off();
        npend = mount_basics(pend, 4); /* no-op unless a move into the new root failed */
        for (int i = 0; i < npend; i++)
            warn_step(pend[i].step, pend[i].err);
        if (os_init[0]) {
            mark("os-init");
            char *const os_argv[] = {os_init, NULL};
            execv(os_init, os_argv);
            error_step("exec-os-init", errno);
            power_off();
        }
        int e;
        if ((e = mount_fs("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")))
            warn_step("mount:/tmp", e);
        if ((e = mount_fs("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")))
            warn_step("mount:/run", e);
    } else if (getenv("BOXBENCH_INIT_SPEC")) {
        spec_path = getenv("BOXBENCH_INIT_SPEC");
    }

    int status = run_workload(spec_path);
    report_meminfo();
    if (!is_pid1) {
        mark("poweroff");
        /* The full-OS guest's unit ends the boot as boxbench-init does as PID 1 (like `poweroff -ff`): the disk
         * is a throw-away overlay, and the measurement ended with the workload. */
        if (getenv("BOXBENCH_INIT_UNIT")) {
            sync();
            reboot(RB_POWER_OFF);
            error_step("poweroff", errno);
        }
        exit(status < 0 ? 1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
    power_off();
}
