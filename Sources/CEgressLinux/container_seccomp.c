// The seccomp filter of a container's entrypoint: a short deny-list for what capabilities do not
// cover. Creating a user namespace needs no capability (and gives the creator every capability
// inside it), and the kernel keyrings are not namespaced (a uid-0 process reaches the host root's
// keyring). Everything else is allowed; capabilities and the namespaces do the rest.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "container_paths.h"

#if defined(__x86_64__)
#define EGRESS_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define EGRESS_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "the container seccomp filter knows x86_64 and aarch64"
#endif

#define SYSCALL_NUMBER offsetof(struct seccomp_data, nr)
#define SYSCALL_ARCH offsetof(struct seccomp_data, arch)
#define SYSCALL_ARG0_LOW offsetof(struct seccomp_data, args[0])
#define REFUSE(code) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((code) & SECCOMP_RET_DATA))
#define ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
// If the syscall number is `number`, refuse it with `code`; else go on.
#define REFUSE_SYSCALL(number, code) \
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (number), 0, 1), REFUSE(code)

int egress_container_install_seccomp(void) {
    struct sock_filter filter[] = {
        // Another architecture's calling convention (x32, i386 on x86_64) could dodge the numbers.
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_ARCH),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, EGRESS_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_NUMBER),
#if defined(__x86_64__)
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),  // the x32 ABI's numbers
        REFUSE(ENOSYS),
#endif
        REFUSE_SYSCALL(__NR_keyctl, EPERM),
        REFUSE_SYSCALL(__NR_add_key, EPERM),
        REFUSE_SYSCALL(__NR_request_key, EPERM),
        REFUSE_SYSCALL(__NR_unshare, EPERM),
        REFUSE_SYSCALL(__NR_clone3, ENOSYS),
        // clone: refuse CLONE_NEWUSER in its flags (the first argument, low word).
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SYSCALL_ARG0_LOW),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWUSER, 0, 1),
        REFUSE(EPERM),
        ALLOW,
    };
    struct sock_fprog program = {.len = (unsigned short)(sizeof(filter) / sizeof(filter[0])), .filter = filter};
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0);
}
