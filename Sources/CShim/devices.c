#define _GNU_SOURCE
#include "cshim.h"
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The cgroup v2 device controller is a BPF program (BPF_PROG_TYPE_CGROUP_DEVICE). This one is built from the rules
   the way runc's devicefilter does: the last rule that matches a request decides, so rules are emitted last first,
   each as "if type/access/major/minor match: return allow", and nothing matching means deny. Runs in the parent. */

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    struct bpf_insn i;
    memset(&i, 0, sizeof i);
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}

/* One rule's block into out (at most 9 instructions); returns its length. *unconditional: it matches everything. */
static size_t emit_rule(const struct cshim_device_rule *r, struct bpf_insn *out, int *unconditional) {
    struct bpf_insn tmp[9];
    int is_jump[9] = {0};
    size_t n = 0;
    if (r->type != 0) { is_jump[n] = 1; tmp[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, 2, 0, 0, r->type); }
    if ((r->access & 7) != 7) {
        tmp[n++] = insn(BPF_ALU | BPF_MOV | BPF_X, 1, 3, 0, 0);
        tmp[n++] = insn(BPF_ALU | BPF_AND | BPF_K, 1, 0, 0, ~r->access & 7);
        is_jump[n] = 1; tmp[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, 1, 0, 0, 0);
    }
    if (r->major >= 0) { is_jump[n] = 1; tmp[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, 4, 0, 0, r->major); }
    if (r->minor >= 0) { is_jump[n] = 1; tmp[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 0, r->minor); }
    *unconditional = n == 0;
    tmp[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, r->allow ? 1 : 0);
    tmp[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    /* A failed match skips to the next block: past the rest of this one. */
    for (size_t i = 0; i < n; i++) {
        if (is_jump[i]) tmp[i].off = (int16_t)(n - 1 - i);
        out[i] = tmp[i];
    }
    return n;
}

int cshim_attach_device_filter(int cgroup_fd, const struct cshim_device_rule *rules, size_t n_rules) {
    size_t cap = 8 + n_rules * 9;
    struct bpf_insn *prog = calloc(cap, sizeof *prog);
    if (!prog) return -ENOMEM;
    size_t n = 0;
    /* r2 = device type, r3 = requested access, r4 = major, r5 = minor (struct bpf_cgroup_dev_ctx) */
    prog[n++] = insn(BPF_LDX | BPF_W | BPF_MEM, 2, 1, 0, 0);
    prog[n++] = insn(BPF_ALU | BPF_AND | BPF_K, 2, 0, 0, 0xffff);
    prog[n++] = insn(BPF_LDX | BPF_W | BPF_MEM, 3, 1, 0, 0);
    prog[n++] = insn(BPF_ALU | BPF_RSH | BPF_K, 3, 0, 0, 16);
    prog[n++] = insn(BPF_LDX | BPF_W | BPF_MEM, 4, 1, 4, 0);
    prog[n++] = insn(BPF_LDX | BPF_W | BPF_MEM, 5, 1, 8, 0);
    /* The verifier refuses unreachable code: nothing is emitted after a rule that matches everything. */
    int unconditional = 0;
    for (size_t i = n_rules; i-- > 0 && !unconditional;) n += emit_rule(&rules[i], prog + n, &unconditional);
    if (!unconditional) {
        prog[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
        prog[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    }

    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insn_cnt = (uint32_t)n;
    attr.insns = (uint64_t)(uintptr_t)prog;
    attr.license = (uint64_t)(uintptr_t)"Apache";
    int prog_fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
    int e = errno;
    free(prog);
    if (prog_fd < 0) return -e - CSHIM_BPF_LOAD_FAILED;
    memset(&attr, 0, sizeof attr);
    attr.target_fd = (uint32_t)cgroup_fd;
    attr.attach_bpf_fd = (uint32_t)prog_fd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    int rc = (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof attr);
    e = errno;
    close(prog_fd); /* the attachment holds the program until the group is removed */
    return rc == 0 ? 0 : -e;
}

int cshim_count_device_programs(int cgroup_fd) {
    uint32_t ids[64];
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.query.target_fd = (uint32_t)cgroup_fd;
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
    attr.query.prog_cnt = 64;
    if (syscall(SYS_bpf, BPF_PROG_QUERY, &attr, sizeof attr) != 0) return -errno;
    return (int)attr.query.prog_cnt;
}
