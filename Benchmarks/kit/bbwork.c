/*
 * bbwork — static multi-call workload program for boxbench.
 *
 * The same bytes run natively, in a container and inside a VM (as a child of boxbench-init), so
 * every arm measures identical work.  Invocation: `bbwork <workload> [args]`, or through a symlink
 * whose basename is the workload name.
 *
 *   hello                 print "hello from bbwork" (pure startup)
 *   idle [SECONDS]        print "ready", then sleep until SIGTERM/SIGINT (exit 0) or SECONDS elapse
 *   cpu [MiB=64]          SHA-256 over MiB of deterministic data (a 1 MiB xorshift64 block, repeated)
 *   memory [MiB=64]       malloc MiB and write one byte to every page
 *   syscall [N=200000]    N x getppid(), then N/10 x open("/dev/null")+close()
 *   fileio [MiB=32]       write MiB, fsync, drop the file's cache, read back and verify, unlink.
 *                         Directory: $BBWORK_DIR if set, else the cwd, else /tmp if the cwd is not writable
 *   probe                 isolation probe (see probe_main); never destructive: arguments are invalid or harmless
 *   netserver PORT [SIZE=64]
 *                         TCP request/response server: listen on PORT (all addresses), print "listening", serve one
 *                         connection (answer each SIZE-byte request with SIZE bytes) until the client closes it
 *   netrr HOST PORT [COUNT=2000] [SIZE=64] [WAIT_MS=10000]
 *                         the client: connect (retrying for up to WAIT_MS while the server starts), then COUNT
 *                         transactions of SIZE bytes each way (netperf TCP_RR style), TCP_NODELAY; prints the
 *                         latency p50/p99 and transactions per second, and the time until the connect succeeded
 *   serve CONTROL_PORT PROGRAM [ARG...]
 *                         a service workload's supervisor: start PROGRAM (a server, searched in $PATH), listen on
 *                         CONTROL_PORT, and when a client connects there (`stop`), end the server (SIGTERM, SIGKILL
 *                         after 5 s), print "stopped" and exit 0; a server that exits before that fails the run
 *   ready tcp|http|redis HOST PORT PATH WAIT_MS
 *                         the readiness probe, from the client side: until WAIT_MS pass, connect (1 s per attempt)
 *                         and for http GET PATH expecting status 200, for redis send PING expecting +PONG; prints
 *                         the CLOCK_MONOTONIC time the first good answer arrived, the attempts it took, and
 *                         `reply …`: the answer as compared across arms (HTTP status line, body size and hash)
 *   stop HOST CONTROL_PORT [WAIT_MS=10000]
 *                         tell `serve` to end its server; returns once it has (the connection closes)
 *
 * Output (stdout, one item per line):
 *   bbwork: key=value                       result; numeric keys end in _ns, _ms, _bytes or _per_s
 *   bbwork: probe name=N result=R [errno=E] [signal=S] [step=X] [bytes=B] [value=V]
 *                                           R: succeeded | allowed | blocked | failed
 *   bbwork: probe-info key=value            facts about where the probe ran (pid, uid, interfaces, ...)
 *   bbwork: probe-summary succeeded=N allowed=N blocked=N failed=N
 * Lines without a measured number are identical across runs and arms (except probe output).
 * Exit status: 0 success, 1 runtime failure (message on stderr), 2 bad usage (stderr names the argument).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/keyctl.h>
#include <linux/reboot.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#define MIB (1024UL * 1024UL)

static const char *prog = "bbwork";

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    va_list ap;
    fputs("bbwork: ", stdout);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
}

static void die(const char *what) __attribute__((noreturn));
static void die(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
    exit(1);
}

static void usage_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nusage: bbwork hello | idle [SECONDS] | cpu [MiB] | memory [MiB] | syscall [N] | fileio [MiB] | probe | netserver PORT [SIZE] | netrr HOST PORT [COUNT] [SIZE] [WAIT_MS] | serve CONTROL_PORT PROGRAM [ARG...] | ready tcp|http|redis HOST PORT PATH WAIT_MS | stop HOST CONTROL_PORT [WAIT_MS]\n",
          stderr);
    exit(2);
}

/* Parses a positive decimal argument; anything else is a usage error naming the argument. */
static unsigned long parse_count(const char *workload, const char *what, const char *s, unsigned long max)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v == 0 || v > max)
        usage_error("%s: bad %s argument '%s' (want an integer 1..%lu)", workload, what, s, max);
    return v;
}

/* Returns argv[0] of the workload's own args, or dflt; more than one arg is a usage error. */
static unsigned long one_count(const char *workload, const char *what, int argc, char **argv,
                               unsigned long dflt, unsigned long max)
{
    if (argc > 1)
        usage_error("%s: unexpected argument '%s'", workload, argv[1]);
    return argc == 1 ? parse_count(workload, what, argv[0], max) : dflt;
}

static const char *errno_name(int e)
{
    static char buf[16];
    switch (e) {
#define E(x) case x: return #x;
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(ENOEXEC) E(EBADF) E(ECHILD)
    E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(EXDEV) E(ENODEV) E(ENOTDIR)
    E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOTTY) E(ETXTBSY) E(EFBIG) E(ENOSPC) E(ESPIPE)
    E(EROFS) E(EMLINK) E(EPIPE) E(ERANGE) E(ENAMETOOLONG) E(ENOSYS) E(ELOOP) E(ENODATA)
    E(EPROTONOSUPPORT) E(ESOCKTNOSUPPORT) E(EOPNOTSUPP) E(EAFNOSUPPORT) E(EADDRNOTAVAIL)
    E(ETIMEDOUT) E(EDQUOT) E(ENOKEY) E(EKEYREJECTED) E(EKEYREVOKED) E(EKEYEXPIRED) E(EUSERS)
    E(ECANCELED) E(EOWNERDEAD)
#undef E
    default:
        snprintf(buf, sizeof buf, "E%d", e);
        return buf;
    }
}

static const char *signal_name(int s)
{
    static char buf[16];
    switch (s) {
#define S(x) case x: return #x;
    S(SIGHUP) S(SIGINT) S(SIGQUIT) S(SIGILL) S(SIGTRAP) S(SIGABRT) S(SIGBUS) S(SIGFPE) S(SIGKILL)
    S(SIGUSR1) S(SIGSEGV) S(SIGUSR2) S(SIGPIPE) S(SIGALRM) S(SIGTERM) S(SIGXCPU) S(SIGXFSZ) S(SIGSYS)
#undef S
    default:
        snprintf(buf, sizeof buf, "SIG%d", s);
        return buf;
    }
}

/* ---------------------------------------------------------------- hello */

static int hello_main(int argc, char **argv)
{
    if (argc > 0)
        usage_error("hello: unexpected argument '%s'", argv[0]);
    puts("hello from bbwork");
    return 0;
}

/* ---------------------------------------------------------------- idle */

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig) { stop_signal = sig; }

static int idle_main(int argc, char **argv)
{
    unsigned long seconds = one_count("idle", "SECONDS", argc, argv, 0, 86400UL * 365);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop; /* a handler (not SIG_DFL) so SIGTERM also ends us when we are PID 1 */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    uint64_t t0 = now_ns();
    puts("ready");
    fflush(stdout);
    if (seconds == 0) {
        while (!stop_signal)
            pause();
    } else {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += (time_t)seconds;
        while (!stop_signal && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == EINTR)
            ;
    }
    out("idle_ns=%" PRIu64, now_ns() - t0);
    return 0;
}

/* ---------------------------------------------------------------- cpu: SHA-256 (FIPS 180-4) */

typedef struct {
    uint32_t h[8];
    uint64_t len;        /* total bytes hashed */
    uint8_t buf[64];
    size_t used;         /* bytes pending in buf */
} sha256_ctx;

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64], a, b, c, d, e, f, g, hh;
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

static void sha256_init(sha256_ctx *c)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, iv, sizeof iv);
    c->len = 0;
    c->used = 0;
}

static void sha256_update(sha256_ctx *c, const uint8_t *p, size_t n)
{
    c->len += n;
    if (c->used) {
        size_t take = 64 - c->used < n ? 64 - c->used : n;
        memcpy(c->buf + c->used, p, take);
        c->used += take; p += take; n -= take;
        if (c->used < 64)
            return;
        sha256_block(c->h, c->buf);
        c->used = 0;
    }
    for (; n >= 64; p += 64, n -= 64)
        sha256_block(c->h, p);
    memcpy(c->buf, p, n);
    c->used = n;
}

static void sha256_final(sha256_ctx *c, uint8_t out32[32])
{
    uint64_t bits = c->len * 8;
    uint8_t pad[72] = {0x80};
    size_t padlen = (c->used < 56 ? 56 : 120) - c->used;
    for (int i = 0; i < 8; i++)
        pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(c, pad, padlen + 8);
    for (int i = 0; i < 8; i++) {
        out32[4 * i] = (uint8_t)(c->h[i] >> 24); out32[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out32[4 * i + 2] = (uint8_t)(c->h[i] >> 8); out32[4 * i + 3] = (uint8_t)c->h[i];
    }
}

static void hex32(const uint8_t d[32], char out65[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out65 + 2 * i, 3, "%02x", d[i]);
}

/* Known-answer test so a miscompiled hash fails loudly instead of producing a plausible digest. */
static void sha256_selftest(void)
{
    static const char *want[2] = {
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"};
    static const char *msg[2] = {"abc", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"};
    for (int i = 0; i < 2; i++) {
        sha256_ctx c;
        uint8_t d[32];
        char hex[65];
        sha256_init(&c);
        sha256_update(&c, (const uint8_t *)msg[i], strlen(msg[i]));
        sha256_final(&c, d);
        hex32(d, hex);
        if (strcmp(hex, want[i]) != 0) {
            fprintf(stderr, "%s: cpu: SHA-256 self-test failed\n", prog);
            exit(1);
        }
    }
}

/* Deterministic pattern: xorshift64 from a fixed seed, little-endian 8 bytes per step. */
static void fill_pattern(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        for (int b = 0; b < 8; b++)
            p[i + b] = (uint8_t)(x >> (8 * b));
    }
}

static int cpu_main(int argc, char **argv)
{
    unsigned long mib = one_count("cpu", "MiB", argc, argv, 64, 1UL << 20);
    sha256_selftest();
    uint8_t *block = malloc(MIB);
    if (!block)
        die("cpu: malloc");
    fill_pattern(block, MIB, 0x9E3779B97F4A7C15ULL);

    sha256_ctx c;
    uint8_t d[32];
    char hex[65];
    uint64_t t0 = now_ns();
    sha256_init(&c);
    for (unsigned long i = 0; i < mib; i++)
        sha256_update(&c, block, MIB);
    sha256_final(&c, d);
    uint64_t dt = now_ns() - t0;
    hex32(d, hex);
    out("sha256=%s", hex);
    out("hashed_bytes=%lu", mib * MIB);
    out("elapsed_ns=%" PRIu64, dt);
    out("hash_bytes_per_s=%.0f", (double)(mib * MIB) * 1e9 / (double)(dt ? dt : 1));
    free(block);
    return 0;
}

/* ---------------------------------------------------------------- memory */

static int memory_main(int argc, char **argv)
{
    unsigned long mib = one_count("memory", "MiB", argc, argv, 64, 1UL << 20);
    size_t bytes = mib * MIB;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        page = 4096;

    uint64_t t0 = now_ns();
    volatile uint8_t *p = malloc(bytes);
    if (!p)
        die("memory: malloc");
    for (size_t off = 0; off < bytes; off += (size_t)page)
        p[off] = (uint8_t)(off >> 12 | 1); /* a non-zero write: a read of a fresh page would map the shared zero page */
    uint64_t dt = now_ns() - t0;

    size_t touched = 0;
    for (size_t off = 0; off < bytes; off += (size_t)page)
        touched += p[off] != 0 ? (size_t)page : 0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    out("touched_bytes=%zu", touched);
    out("page_size_bytes=%ld", page);
    out("elapsed_ns=%" PRIu64, dt);
    out("touch_bytes_per_s=%.0f", (double)bytes * 1e9 / (double)(dt ? dt : 1));
    out("maxrss_bytes=%ld", ru.ru_maxrss * 1024L);
    free((void *)p);
    return touched == bytes ? 0 : 1;
}

/* ---------------------------------------------------------------- syscall */

static int syscall_main(int argc, char **argv)
{
    unsigned long n = one_count("syscall", "N", argc, argv, 200000, 1000000000UL);
    unsigned long m = n / 10 ? n / 10 : 1;

    uint64_t t0 = now_ns();
    for (unsigned long i = 0; i < n; i++)
        syscall(SYS_getppid); /* raw syscall: no libc caching can turn this into a function call */
    uint64_t t1 = now_ns();
    for (unsigned long i = 0; i < m; i++) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            die("syscall: open /dev/null");
        close(fd);
    }
    uint64_t t2 = now_ns();
    out("getppid_ns=%.1f", (double)(t1 - t0) / (double)n);
    out("open_close_ns=%.1f", (double)(t2 - t1) / (double)m);
    out("elapsed_ns=%" PRIu64, t2 - t0);
    return 0;
}

/* ---------------------------------------------------------------- fileio */

static char fileio_path[PATH_MAX];

static int fileio_open(const char *dir)
{
    snprintf(fileio_path, sizeof fileio_path, "%s/.bbwork-fileio.%ld", dir, (long)getpid());
    return open(fileio_path, O_RDWR | O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC, 0600);
}

static void fileio_fail(const char *what) __attribute__((noreturn));
static void fileio_fail(const char *what)
{
    int e = errno;
    unlink(fileio_path);
    errno = e;
    die(what);
}

static int fileio_main(int argc, char **argv)
{
    unsigned long mib = one_count("fileio", "MiB", argc, argv, 32, 1UL << 20);
    const char *env = getenv("BBWORK_DIR");
    int fd;
    if (env && *env) {
        fd = fileio_open(env);
    } else {
        fd = fileio_open(".");
        if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM))
            fd = fileio_open("/tmp");
    }
    if (fd < 0) {
        char what[PATH_MAX + 32];
        snprintf(what, sizeof what, "fileio: create %s", fileio_path);
        die(what);
    }

    uint8_t *buf = malloc(MIB), *rbuf = malloc(MIB);
    if (!buf || !rbuf)
        fileio_fail("fileio: malloc");
    fill_pattern(buf, MIB, 0xD1B54A32D192ED03ULL);

    uint64_t t0 = now_ns();
    for (unsigned long i = 0; i < mib; i++) {
        buf[0] = (uint8_t)i; /* each MiB differs, so no layer can deduplicate the blocks */
        for (size_t off = 0; off < MIB;) {
            ssize_t w = write(fd, buf + off, MIB - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                fileio_fail("fileio: write");
            off += (size_t)w;
        }
    }
    uint64_t t1 = now_ns();
    if (fsync(fd) != 0)
        fileio_fail("fileio: fsync");
    uint64_t t2 = now_ns();
    /* Clean pages can be dropped now, so the read measures the storage path, not the page cache. */
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (lseek(fd, 0, SEEK_SET) != 0)
        fileio_fail("fileio: lseek");

    uint64_t t3 = now_ns();
    for (unsigned long i = 0; i < mib; i++) {
        for (size_t off = 0; off < MIB;) {
            ssize_t r = read(fd, rbuf + off, MIB - off);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                fileio_fail("fileio: read");
            if (r == 0) {
                errno = EIO;
                fileio_fail("fileio: short read");
            }
            off += (size_t)r;
        }
        buf[0] = (uint8_t)i;
        if (memcmp(buf, rbuf, MIB) != 0) {
            errno = EIO;
            fileio_fail("fileio: read back differs from what was written");
        }
    }
    uint64_t t4 = now_ns();
    close(fd);
    if (unlink(fileio_path) != 0)
        die("fileio: unlink");

    uint64_t bytes = (uint64_t)mib * MIB;
    out("file_bytes=%" PRIu64, bytes);
    out("write_ns=%" PRIu64, t1 - t0);
    out("fsync_ns=%" PRIu64, t2 - t1);
    out("read_ns=%" PRIu64, t4 - t3);
    out("write_bytes_per_s=%.0f", (double)bytes * 1e9 / (double)(t2 - t0 ? t2 - t0 : 1));
    out("read_bytes_per_s=%.0f", (double)bytes * 1e9 / (double)(t4 - t3 ? t4 - t3 : 1));
    free(buf);
    free(rbuf);
    return 0;
}

/* ---------------------------------------------------------------- probe */

/*
 * Each attempt runs in a forked child, so a seccomp kill only ends that attempt and a call that
 * succeeds (unshare, setns, keyctl) changes only the child.  The child returns 0 or an errno.
 * Classification:  succeeded  the call did what it asks (arguments chosen to be harmless)
 *                  allowed    the call passed the permission checks and failed only on the
 *                             deliberately invalid arguments (it is NOT blocked)
 *                  blocked    EPERM/EACCES/ENOSYS/EROFS, or the child was killed by a signal
 *                  failed     something else went wrong; inconclusive
 */
struct probe_counts {
    int succeeded, allowed, blocked, failed;
};
static struct probe_counts counts;
static char probe_dir[64];
static pid_t probe_pid; /* pid of the probing process itself (attempts run in its children) */

static int is_block_errno(int e) { return e == EPERM || e == EACCES || e == ENOSYS || e == EROFS; }

static void report(const char *name, const char *result, const char *extra)
{
    if (!strcmp(result, "succeeded")) counts.succeeded++;
    else if (!strcmp(result, "allowed")) counts.allowed++;
    else if (!strcmp(result, "blocked")) counts.blocked++;
    else counts.failed++;
    out("probe name=%s result=%s%s%s", name, result, extra && *extra ? " " : "", extra ? extra : "");
}

/* Runs fn in a child; classifies its errno (allowed_errnos: errnos that mean "reached the kernel"). */
static void probe(const char *name, int (*fn)(void), const int *allowed_errnos)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        char extra[64];
        snprintf(extra, sizeof extra, "step=fork errno=%s", errno_name(errno));
        report(name, "failed", extra);
        return;
    }
    if (pid == 0) {
        int e = fn();
        _exit(e > 0 && e < 256 ? e : (e == 0 ? 0 : 255));
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    char extra[64];
    if (WIFSIGNALED(st)) {
        snprintf(extra, sizeof extra, "signal=%s", signal_name(WTERMSIG(st)));
        report(name, "blocked", extra);
        return;
    }
    int e = WEXITSTATUS(st);
    if (e == 0) {
        report(name, "succeeded", NULL);
        return;
    }
    snprintf(extra, sizeof extra, "errno=%s", errno_name(e));
    if (is_block_errno(e)) {
        report(name, "blocked", extra);
        return;
    }
    for (const int *a = allowed_errnos; a && *a; a++)
        if (*a == e) {
            report(name, "allowed", extra);
            return;
        }
    report(name, "failed", extra);
}

static int rc(long r) { return r >= 0 ? 0 : errno; }

static int p_mount(void)
{
    return rc(mount("bbwork-probe", probe_dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16k"));
}

/* Unmounts our own tmpfs if the mount worked; otherwise the dir is no mount point: EINVAL = permitted. */
static int p_umount2(void) { return rc(umount2(probe_dir, UMOUNT_NOFOLLOW)); }

static int p_unshare(void) { return rc(unshare(CLONE_NEWNS)); }

static int p_setns(void)
{
    int fd = open("/proc/1/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (is_block_errno(errno))
            return errno;
        fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC); /* no pid 1 entry: still test setns itself */
        if (fd < 0)
            return errno;
    }
    return rc(setns(fd, CLONE_NEWNET));
}

static int p_ptrace(void)
{
    pid_t target = 1;
    if (probe_pid == 1) {
        /* We are PID 1 of this namespace: attaching to ourselves says nothing; a child of ours is the fair target. */
        target = fork();
        if (target < 0)
            return errno;
        if (target == 0) {
            for (;;)
                pause();
        }
    }
    /* PTRACE_SEIZE: the same permission checks as PTRACE_ATTACH, but never stops the target. */
    long r = ptrace(PTRACE_SEIZE, target, NULL, NULL);
    int e = r == 0 ? 0 : errno;
    if (target != 1) {
        kill(target, SIGKILL);
        waitpid(target, NULL, 0);
    }
    return e; /* exiting detaches a seized tracee */
}

static int p_kexec_load(void)
{
    /* nr_segments 0 would unload a loaded kernel; 1000 > KEXEC_SEGMENT_MAX is rejected after the permission check. */
    return rc(syscall(SYS_kexec_load, 0UL, 1000UL, NULL, 0UL));
}

static int p_init_module(void) { return rc(syscall(SYS_init_module, NULL, 0UL, "")); }

static int p_bpf(void)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    long r = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
    if (r >= 0)
        close((int)r);
    return rc(r < 0 ? r : 0);
}

/* io_uring: a ring of one entry, closed at once; Docker's profile denies the three io_uring syscalls. */
static int p_io_uring_setup(void)
{
    char params[120]; /* struct io_uring_params */
    memset(params, 0, sizeof params);
    long r = syscall(425 /* __NR_io_uring_setup */, 1, params);
    if (r >= 0)
        close((int)r);
    return rc(r < 0 ? r : 0);
}

/* ADDR_NO_RANDOMIZE (0x0040000) is not among the personalities Docker's profile allows; query first, restore after. */
static int p_personality(void)
{
    long old = syscall(SYS_personality, 0xffffffffUL);
    long r = syscall(SYS_personality, 0x0040000UL);
    if (r >= 0 && old >= 0)
        syscall(SYS_personality, (unsigned long)old);
    return rc(r);
}

/* AF_VSOCK (40): a socket to the hypervisor's side; only created, never connected. */
static int p_vsock_socket(void)
{
    int fd = socket(40, SOCK_STREAM, 0);
    if (fd >= 0)
        close(fd);
    return rc(fd);
}

static int p_keyctl(void)
{
    long r = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL); /* a fresh anonymous keyring, child only */
    return rc(r < 0 ? r : 0);
}

static int p_add_key(void)
{
    /* Keyring id 0 is invalid: EINVAL means the call got past seccomp and the permission checks. */
    long r = syscall(SYS_add_key, "user", "bbwork-probe", "x", 1UL, 0);
    return rc(r < 0 ? r : 0);
}

static int p_reboot(void)
{
    /* The capability check comes before the magic check, so a wrong magic2 is a harmless permission test. */
    return rc(syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, 0, LINUX_REBOOT_CMD_CAD_OFF, NULL));
}

static int p_sysrq(void)
{
    int fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int e = write(fd, "h", 1) == 1 ? 0 : errno; /* 'h' only prints the sysrq help to the kernel log */
    close(fd);
    return e;
}

static int p_proc1_environ(void)
{
    int fd = open("/proc/1/environ", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    char buf[256];
    int e = read(fd, buf, sizeof buf) >= 0 ? 0 : errno; /* contents are never printed */
    close(fd);
    return e;
}

static int p_packet_socket(void)
{
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

/* Reads a small file into buf (NUL-terminated); returns bytes read or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == cap - 1)
            break;
    }
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

/* Makes a value one printable token: NULs and spaces become ',' , other odd bytes '?'. */
static void tokenize(char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == '\0' || s[n - 1] == '\n'))
        s[--n] = '\0';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == 0 || ch == ' ' || ch == '\t' || ch == '\n')
            s[i] = ',';
        else if (ch < 0x21 || ch > 0x7e)
            s[i] = '?';
    }
    if (n == 0)
        strcpy(s, "-");
}

static void probe_info(void)
{
    char buf[4096];
    out("probe-info pid=%ld", (long)getpid());
    out("probe-info uid=%ld", (long)getuid());
    out("probe-info gid=%ld", (long)getgid());

    if (gethostname(buf, sizeof buf) == 0) {
        buf[sizeof buf - 1] = '\0';
        tokenize(buf, strlen(buf));
        out("probe-info hostname=%s", buf);
    }

    char cap[64] = "unknown";
    if (read_small("/proc/self/status", buf, sizeof buf) > 0) {
        char *l = strstr(buf, "\nCapEff:");
        if (l)
            sscanf(l + 8, " %63s", cap);
    }
    out("probe-info capeff=%s", cap);

    long pids = 0;
    DIR *d = opendir("/proc");
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)))
            if (de->d_name[0] >= '1' && de->d_name[0] <= '9')
                pids++;
        closedir(d);
        out("probe-info visible_pids=%ld", pids);
    } else {
        out("probe-info visible_pids=unknown");
    }

    char ifs[1024] = "";
    d = opendir("/sys/class/net");
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            if (ifs[0] && strlen(ifs) + 1 < sizeof ifs)
                strcat(ifs, ",");
            if (strlen(ifs) + strlen(de->d_name) < sizeof ifs)
                strcat(ifs, de->d_name);
        }
        closedir(d);
    }
    tokenize(ifs, strlen(ifs));
    out("probe-info net_interfaces=%s", ifs);

    ssize_t n = read_small("/proc/1/cmdline", buf, 512);
    if (n >= 0) {
        tokenize(buf, (size_t)n);
        out("probe-info pid1_cmdline=%s", buf);
    } else {
        out("probe-info pid1_cmdline=unreadable errno=%s", errno_name(errno));
    }
}

static int probe_main(int argc, char **argv)
{
    if (argc > 0)
        usage_error("probe: unexpected argument '%s'", argv[0]);
    static const int einval[] = {EINVAL, 0};
    static const int module_errs[] = {EFAULT, EINVAL, ENOEXEC, 0};
    static const int bpf_errs[] = {EINVAL, EFAULT, E2BIG, 0};
    static const int key_errs[] = {EINVAL, ENOKEY, EDQUOT, 0};

    probe_pid = getpid();
    probe_info();

    const char *tmpdirs[] = {getenv("BBWORK_DIR"), "/tmp", "/dev/shm", "/run", "."};
    probe_dir[0] = '\0';
    for (size_t i = 0; i < sizeof tmpdirs / sizeof *tmpdirs && !probe_dir[0]; i++) {
        if (!tmpdirs[i] || !*tmpdirs[i] || strlen(tmpdirs[i]) > 32)
            continue;
        snprintf(probe_dir, sizeof probe_dir, "%s/bbwork-probe.XXXXXX", tmpdirs[i]);
        if (!mkdtemp(probe_dir))
            probe_dir[0] = '\0';
    }
    if (probe_dir[0]) {
        probe("mount", p_mount, NULL);
        probe("umount2", p_umount2, einval);
        umount2(probe_dir, MNT_DETACH | UMOUNT_NOFOLLOW); /* no-op unless the umount2 probe left our tmpfs */
        rmdir(probe_dir);
    } else {
        char extra[64];
        snprintf(extra, sizeof extra, "step=mkdtemp errno=%s", errno_name(errno));
        report("mount", "failed", extra);
        report("umount2", "failed", extra);
    }
    probe("unshare", p_unshare, NULL);
    probe("setns", p_setns, NULL);
    probe("ptrace", p_ptrace, NULL);
    probe("kexec_load", p_kexec_load, einval);
    probe("init_module", p_init_module, module_errs);
    probe("bpf", p_bpf, bpf_errs);
    probe("keyctl", p_keyctl, NULL);
    probe("add_key", p_add_key, key_errs);
    probe("reboot", p_reboot, einval);
    probe("sysrq_trigger", p_sysrq, NULL);
    probe("proc1_environ", p_proc1_environ, NULL);
    probe("packet_socket", p_packet_socket, NULL);
    static const int vsock_errs[] = {EAFNOSUPPORT, 0}; /* no vsock transport here: the socket call was let through */
    probe("io_uring_setup", p_io_uring_setup, NULL);
    probe("personality", p_personality, NULL);
    probe("vsock_socket", p_vsock_socket, vsock_errs);
    out("probe-summary succeeded=%d allowed=%d blocked=%d failed=%d", counts.succeeded, counts.allowed,
        counts.blocked, counts.failed);
    return 0;
}

/* ---------------------------------------------------------------- netserver / netrr */

static int full_io(int fd, uint8_t *buf, size_t n, int writing)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = writing ? write(fd, buf + done, n - done) : read(fd, buf + done, n - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r == 0 ? 1 : -1; /* 1: the peer closed */
        done += (size_t)r;
    }
    return 0;
}

static int netserver_main(int argc, char **argv)
{
    if (argc < 1 || argc > 2)
        usage_error("netserver: want PORT [SIZE]");
    unsigned long port = parse_count("netserver", "PORT", argv[0], 65535);
    unsigned long size = argc == 2 ? parse_count("netserver", "SIZE", argv[1], 1UL << 20) : 64;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ls < 0)
        die("netserver: socket");
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = {INADDR_ANY}};
    if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0)
        die("netserver: bind");
    if (listen(ls, 4) != 0)
        die("netserver: listen");
    puts("listening");
    fflush(stdout);
    int c;
    do { c = accept4(ls, NULL, NULL, SOCK_CLOEXEC); } while (c < 0 && errno == EINTR);
    if (c < 0)
        die("netserver: accept");
    close(ls);
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint8_t *buf = malloc(size);
    if (!buf)
        die("netserver: malloc");
    unsigned long served = 0;
    for (;;) {
        int r = full_io(c, buf, size, 0);
        if (r == 1)
            break;
        if (r < 0 || full_io(c, buf, size, 1) != 0)
            die("netserver: transaction");
        served++;
    }
    out("served=%lu", served);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* One bounded (1 s) connect: a SYN sent while the server's host is still booting may never be answered, and a
   blocking connect would wait minutes for it.  Returns the connected socket or -1 with errno set. */
static int connect_once(const struct sockaddr_in *a)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int e = 0;
    if (connect(fd, (const struct sockaddr *)a, sizeof *a) != 0) {
        e = errno;
        if (e == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int n;
            do { n = poll(&p, 1, 1000); } while (n < 0 && errno == EINTR);
            socklen_t len = sizeof e;
            if (n == 0)
                e = ETIMEDOUT;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
                e = errno;
        }
    }
    if (e != 0) {
        close(fd);
        errno = e;
        return -1;
    }
    fcntl(fd, F_SETFL, flags);
    return fd;
}

static struct sockaddr_in parse_address(const char *workload, const char *host, const char *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        usage_error("%s: bad HOST '%s' (want an IPv4 address)", workload, host);
    a.sin_port = htons((uint16_t)parse_count(workload, "PORT", port, 65535));
    return a;
}

static int netrr_main(int argc, char **argv)
{
    if (argc < 2 || argc > 5)
        usage_error("netrr: want HOST PORT [COUNT] [SIZE] [WAIT_MS]");
    struct sockaddr_in a = parse_address("netrr", argv[0], argv[1]);
    unsigned long count = argc > 2 ? parse_count("netrr", "COUNT", argv[2], 100000000UL) : 2000;
    unsigned long size = argc > 3 ? parse_count("netrr", "SIZE", argv[3], 1UL << 20) : 64;
    unsigned long wait_ms = argc > 4 ? parse_count("netrr", "WAIT_MS", argv[4], 3600000UL) : 10000;
    uint64_t t0 = now_ns(), deadline = t0 + wait_ms * 1000000ULL;
    int fd;
    for (;;) {
        fd = connect_once(&a);
        if (fd >= 0)
            break;
        int e = errno;
        if ((e != ECONNREFUSED && e != ENETUNREACH && e != EHOSTUNREACH && e != ETIMEDOUT) || now_ns() > deadline) {
            errno = e;
            die("netrr: connect");
        }
        struct timespec pause_ts = {0, 1000000}; /* 1 ms between attempts */
        nanosleep(&pause_ts, NULL);
    }
    uint64_t connected = now_ns();
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint8_t *buf = malloc(size);
    uint64_t *rtt = malloc(count * sizeof *rtt);
    if (!buf || !rtt)
        die("netrr: malloc");
    memset(buf, 0x5A, size);
    uint64_t start = now_ns();
    for (unsigned long i = 0; i < count; i++) {
        uint64_t t = now_ns();
        if (full_io(fd, buf, size, 1) != 0 || full_io(fd, buf, size, 0) != 0)
            die("netrr: transaction");
        rtt[i] = now_ns() - t;
    }
    uint64_t total = now_ns() - start;
    close(fd);
    qsort(rtt, count, sizeof *rtt, cmp_u64);
    out("rr_transactions=%lu size=%lu", count, size);
    out("rr_p50_ns=%" PRIu64, rtt[count / 2]);
    out("rr_p99_ns=%" PRIu64, rtt[(count * 99) / 100 < count ? (count * 99) / 100 : count - 1]);
    out("rr_per_s=%.1f", (double)count * 1e9 / (double)total);
    out("connect_wait_ns=%" PRIu64, connected - t0);
    return 0;
}

/* ---------------------------------------------------------------- serve / ready / stop */

static int serve_main(int argc, char **argv)
{
    if (argc < 2)
        usage_error("serve: want CONTROL_PORT PROGRAM [ARG...]");
    unsigned long port = parse_count("serve", "CONTROL_PORT", argv[0], 65535);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ls < 0)
        die("serve: socket");
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = {INADDR_ANY}};
    if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0)
        die("serve: bind");
    if (listen(ls, 4) != 0)
        die("serve: listen");
    fflush(stdout);
    pid_t server = fork();
    if (server < 0)
        die("serve: fork");
    if (server == 0) {
        execvp(argv[1], argv + 1);
        fprintf(stderr, "%s: serve: exec %s: %s\n", prog, argv[1], strerror(errno));
        _exit(127);
    }
    int c = -1;
    while (c < 0) {
        int status;
        pid_t w = waitpid(server, &status, WNOHANG);
        if (w == server) {
            fprintf(stderr, "%s: serve: %s ended before it was stopped (%s %d)\n", prog, argv[1],
                    WIFEXITED(status) ? "exit" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
            return 1;
        }
        struct pollfd p = {.fd = ls, .events = POLLIN};
        if (poll(&p, 1, 100) > 0)
            c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    }
    kill(server, SIGTERM);
    int status = 0;
    for (int i = 0; i < 500 && waitpid(server, &status, WNOHANG) != server; i++) {
        struct timespec t = {0, 10000000};
        nanosleep(&t, NULL);
        if (i == 499) {
            kill(server, SIGKILL);
            waitpid(server, &status, 0);
        }
    }
    puts("stopped");
    fflush(stdout);
    close(c);
    close(ls);
    return 0;
}

/* One readiness attempt on a connected socket: 0 when the service answered as it should, with `reply` set to what
   identifies the answer across arms (HTTP: the status line and the body's size and FNV-1a hash, headers such as
   Date left out; redis: the reply line). */
static int ready_attempt(int fd, const char *kind, const char *host, const char *path, char *reply, size_t cap)
{
    static char resp[65536];
    char req[512];
    if (!strcmp(kind, "tcp")) {
        snprintf(reply, cap, "connected");
        return 0;
    }
    int http = !strcmp(kind, "http");
    int n = http ? snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, host)
                 : snprintf(req, sizeof req, "PING\r\n");
    if (write(fd, req, (size_t)n) != n)
        return -1;
    size_t got = 0;
    while (got < sizeof resp - 1) {
        ssize_t r = read(fd, resp + got, sizeof resp - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        if (!http && memchr(resp, '\n', got))
            break; /* redis keeps the connection open: one line is the reply */
    }
    resp[got] = '\0';
    size_t line = strcspn(resp, "\r\n");
    if (!http) {
        if (strncmp(resp, "+PONG", 5))
            return -1;
        snprintf(reply, cap, "%.*s", (int)line, resp);
        return 0;
    }
    if (strncmp(resp, "HTTP/1.", 7) || strncmp(resp + 8, " 200", 4))
        return -1;
    char *body = strstr(resp, "\r\n\r\n");
    body = body ? body + 4 : resp + got;
    uint64_t h = 14695981039346656037ULL;
    for (char *p = body; p < resp + got; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    snprintf(reply, cap, "%.*s body=%zu fnv1a=%016" PRIx64, (int)line, resp, (size_t)(resp + got - body), h);
    return 0;
}

static int ready_main(int argc, char **argv)
{
    if (argc != 5)
        usage_error("ready: want tcp|http|redis HOST PORT PATH WAIT_MS");
    const char *kind = argv[0];
    if (strcmp(kind, "tcp") && strcmp(kind, "http") && strcmp(kind, "redis"))
        usage_error("ready: bad kind '%s' (want tcp, http or redis)", kind);
    struct sockaddr_in a = parse_address("ready", argv[1], argv[2]);
    unsigned long wait_ms = parse_count("ready", "WAIT_MS", argv[4], 3600000UL);
    uint64_t deadline = now_ns() + wait_ms * 1000000ULL;
    unsigned long attempts = 0;
    int last = 0;
    for (;;) {
        attempts++;
        int fd = connect_once(&a);
        if (fd >= 0) {
            struct timeval tv = {1, 0}; /* a reply that never comes is one failed attempt, not a hang */
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            char reply[256];
            int ok = ready_attempt(fd, kind, argv[1], argv[3], reply, sizeof reply);
            uint64_t at = now_ns(); /* the first good response has arrived */
            close(fd);
            if (ok == 0) {
                out("ready_mono_ns=%" PRIu64, at);
                out("ready_attempts=%lu", attempts);
                out("reply %s", reply);
                return 0;
            }
            last = EPROTO;
        } else {
            last = errno;
        }
        if (now_ns() > deadline) {
            fprintf(stderr, "%s: ready: %s:%s did not answer %s within %lu ms (%lu attempts, last: %s)\n", prog,
                    argv[1], argv[2], kind, wait_ms, attempts, last == EPROTO ? "unexpected reply" : strerror(last));
            return 1;
        }
        struct timespec t = {0, 2000000}; /* 2 ms between attempts */
        nanosleep(&t, NULL);
    }
}

static int stop_main(int argc, char **argv)
{
    if (argc < 2 || argc > 3)
        usage_error("stop: want HOST CONTROL_PORT [WAIT_MS]");
    struct sockaddr_in a = parse_address("stop", argv[0], argv[1]);
    unsigned long wait_ms = argc > 2 ? parse_count("stop", "WAIT_MS", argv[2], 3600000UL) : 10000;
    uint64_t deadline = now_ns() + wait_ms * 1000000ULL;
    int fd;
    while ((fd = connect_once(&a)) < 0) {
        if (now_ns() > deadline)
            die("stop: connect");
        struct timespec t = {0, 10000000};
        nanosleep(&t, NULL);
    }
    struct timeval tv = {(time_t)(wait_ms / 1000) + 1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char b;
    while (read(fd, &b, 1) > 0) /* `serve` closes once its server has ended */
        ;
    close(fd);
    return 0;
}

/* ---------------------------------------------------------------- dispatch */

static const struct {
    const char *name;
    int (*fn)(int, char **);
} workloads[] = {
    {"hello", hello_main},   {"idle", idle_main},     {"cpu", cpu_main},     {"memory", memory_main},
    {"syscall", syscall_main}, {"fileio", fileio_main}, {"probe", probe_main},
    {"netserver", netserver_main}, {"netrr", netrr_main}, {"serve", serve_main}, {"ready", ready_main},
    {"stop", stop_main},
};

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* each result line leaves at once, whatever stdout is */
    const char *base = argc > 0 && argv[0] ? strrchr(argv[0], '/') : NULL;
    base = base ? base + 1 : (argc > 0 && argv[0] ? argv[0] : "bbwork");
    for (size_t i = 0; i < sizeof workloads / sizeof *workloads; i++)
        if (!strcmp(base, workloads[i].name))
            return workloads[i].fn(argc - 1, argv + 1);
    if (argc < 2)
        usage_error("missing workload name");
    for (size_t i = 0; i < sizeof workloads / sizeof *workloads; i++)
        if (!strcmp(argv[1], workloads[i].name))
            return workloads[i].fn(argc - 2, argv + 2);
    usage_error("unknown workload '%s'", argv[1]);
}
