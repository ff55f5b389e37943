#define _GNU_SOURCE
#include "cshim.h"
#include <errno.h>
#include <sched.h>
#include <string.h>

/* CPU affinity is per thread and inherited at clone: the calling thread is pinned to `cpu` while it launches a
   server (or a client), so the process is born there. The previous mask is kept in `saved` for the restore. */
int cshim_thread_pin(int cpu, struct cshim_cpu_mask *saved) {
    _Static_assert(sizeof(saved->bytes) >= sizeof(cpu_set_t), "cshim_cpu_mask too small");
    if (sched_getaffinity(0, sizeof(cpu_set_t), (cpu_set_t *)saved->bytes) != 0) return -errno;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return sched_setaffinity(0, sizeof one, &one) == 0 ? 0 : -errno;
}

int cshim_thread_unpin(const struct cshim_cpu_mask *saved) {
    return sched_setaffinity(0, sizeof(cpu_set_t), (const cpu_set_t *)saved->bytes) == 0 ? 0 : -errno;
}
