#include <seccomp.h>
#include <errno.h>

// SCMP_ACT_ERRNO and SCMP_ACT_KILL_PROCESS are function-like macros Swift cannot import.
static inline uint32_t boxbench_scmp_act_errno(uint16_t err) { return SCMP_ACT_ERRNO(err); }
static inline uint32_t boxbench_scmp_act_allow(void) { return SCMP_ACT_ALLOW; }
static inline uint32_t boxbench_scmp_act_kill_process(void) { return SCMP_ACT_KILL_PROCESS; }
static inline uint32_t boxbench_scmp_act_log(void) { return SCMP_ACT_LOG; }
static inline uint32_t boxbench_scmp_act_trap(void) { return SCMP_ACT_TRAP; }
