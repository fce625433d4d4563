// A container's init (pid 1) and its entrypoint: what runs in the cloned child. Init waits to be
// released, sets up the mounts, forks the entrypoint (reduced capabilities, no_new_privs,
// seccomp) and stays: it forwards signals to the entrypoint, reaps orphans and reports the
// entrypoint's wait status. When init ends, the kernel kills every other process of the pid
// namespace.
//
// Only system calls run here (every string was prepared before the clone).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "CEgressLinux.h"
#include "container_paths.h"

// MARK: Set-up failures, reported through the error pipe

static void report(int error_fd, int step, int code) {
    int record[2] = {step, code};
    (void)!write(error_fd, record, sizeof(record));
}

// MARK: The entrypoint (grandchild)

// Docker's default capability set minus NET_RAW and MKNOD: no NET_ADMIN (iptables, routes), no
// SYS_ADMIN (mount, setns), no SYS_PTRACE, no device nodes.
static const uint64_t kept_capabilities = (1ULL << CAP_CHOWN) | (1ULL << CAP_DAC_OVERRIDE) | (1ULL << CAP_FOWNER) |
    (1ULL << CAP_FSETID) | (1ULL << CAP_KILL) | (1ULL << CAP_SETGID) | (1ULL << CAP_SETUID) | (1ULL << CAP_SETPCAP) |
    (1ULL << CAP_NET_BIND_SERVICE) | (1ULL << CAP_SYS_CHROOT) | (1ULL << CAP_AUDIT_WRITE) | (1ULL << CAP_SETFCAP);

static int drop_capabilities(void) {
    for (int cap = 0; cap < 64; cap++) {
        if (!(kept_capabilities & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
            return -1;
        }
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return -1;
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    for (int word = 0; word < 2; word++) {
        uint32_t bits = (uint32_t)(kept_capabilities >> (32 * word));
        data[word].effective = bits;
        data[word].permitted = bits;
    }
    return (int)syscall(SYS_capset, &header, data);
}

static int wire_stdio(const egress_container_spec *spec) {
    // Move the three descriptors above 2 first, so that wiring one cannot clobber another.
    int sources[3] = {spec->stdin_fd, spec->stdout_fd, spec->stderr_fd};
    for (int i = 0; i < 3; i++) {
        if ((sources[i] = fcntl(sources[i], F_DUPFD_CLOEXEC, 3)) < 0) return -1;
    }
    for (int i = 0; i < 3; i++) {
        if (dup2(sources[i], i) < 0) return -1;
    }
    return 0;
}

static void exec_command(const egress_container_spec *spec) {
    const char *command = spec->argv[0];
    if (strchr(command, '/') != NULL) {
        execve(command, spec->argv, spec->envp);
        return;
    }
    int saved = ENOENT;
    char candidate[PATH_MAX];
    const char *cursor = spec->search_path;
    while (cursor != NULL) {
        const char *end = strchr(cursor, ':');
        size_t length = end ? (size_t)(end - cursor) : strlen(cursor);
        if (length + 1 + strlen(command) + 1 <= sizeof(candidate)) {
            memcpy(candidate, cursor, length);
            if (length == 0) candidate[length++] = '.';
            candidate[length] = '/';
            memcpy(candidate + length + 1, command, strlen(command) + 1);
            execve(candidate, spec->argv, spec->envp);
            if (errno != ENOENT && errno != ENOTDIR) saved = errno;
        }
        cursor = end ? end + 1 : NULL;
    }
    errno = saved;
}

static int close_all_except(const int *keep, int count);

__attribute__((noreturn)) static void run_entrypoint(const egress_container_spec *spec, int error_fd) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    int step = STEP_STDIO;
    if (wire_stdio(spec) == 0) {
        close_all_except(&error_fd, 1);
        step = STEP_CAPABILITIES;
        if (drop_capabilities() == 0) {
            step = STEP_NO_NEW_PRIVS;
            if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0) {
                step = STEP_SECCOMP;
                if (egress_container_install_seccomp() == 0) {
                    step = STEP_EXEC;
                    exec_command(spec);
                }
            }
        }
    }
    report(error_fd, step, errno);
    _exit(127);
}

// MARK: init (pid 1)

static pid_t raw_fork(void) {
    return (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
}

// Forwards signals to the entrypoint and reaps every child until the entrypoint ends; writes
// its wait status to `status_fd` and exits.
__attribute__((noreturn)) static void supervise(pid_t entrypoint, int status_fd) {
    sigset_t all;
    sigfillset(&all);
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&all, &info);
        if (sig < 0) continue;
        if (sig != SIGCHLD) {
            kill(entrypoint, sig);
            continue;
        }
        int status = 0;
        pid_t reaped;
        while ((reaped = waitpid(-1, &status, WNOHANG)) > 0) {
            if (reaped == entrypoint) {
                (void)!write(status_fd, &status, sizeof(status));
                _exit(0);
            }
        }
    }
}

static int close_all_except(const int *keep, int count) {
    // `keep` is sorted ascending; descriptors 0 to 2 are never closed.
    unsigned next = 3;
    for (int i = 0; i < count; i++) {
        if (keep[i] < (int)next) continue;
        if ((unsigned)keep[i] > next) close_range(next, (unsigned)keep[i] - 1, 0);
        next = (unsigned)keep[i] + 1;
    }
    return close_range(next, ~0U, 0);
}

static void sort_ints(int *values, int count) {
    for (int i = 1; i < count; i++) {
        for (int j = i; j > 0 && values[j - 1] > values[j]; j--) {
            int swap = values[j];
            values[j] = values[j - 1];
            values[j - 1] = swap;
        }
    }
}


// Puts the three standard descriptors of the entrypoint above 2 (close-on-exec copies), so that
// init's own 0, 1 and 2 can become /dev/null without losing them.
static int lift_stdio(const egress_container_spec *spec, int lifted[3]) {
    int sources[3] = {spec->stdin_fd, spec->stdout_fd, spec->stderr_fd};
    for (int i = 0; i < 3; i++) {
        if ((lifted[i] = fcntl(sources[i], F_DUPFD_CLOEXEC, 3)) < 0) return -1;
    }
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0) return -1;
    for (int i = 0; i < 3; i++) dup2(null, i);
    close(null);
    return 0;
}

void egress_container_run_init(const egress_container_spec *spec, const egress_container_paths *paths, egress_init_pipes pipes) {
    // Dispositions from this process (SIGCHLD ignored would reap the entrypoint behind init's
    // back) go back to the defaults; everything is blocked and taken with sigwaitinfo.
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
    }
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    egress_container_spec own = *spec;
    int lifted[3];
    if (lift_stdio(spec, lifted) != 0) _exit(1);
    own.stdin_fd = lifted[0];
    own.stdout_fd = lifted[1];
    own.stderr_fd = lifted[2];
    int keep[6] = {pipes.release_fd, pipes.error_fd, pipes.status_fd, lifted[0], lifted[1], lifted[2]};
    sort_ints(keep, 6);
    close_all_except(keep, 6);

    char go = 0;
    if (read(pipes.release_fd, &go, 1) != 1) _exit(1);
    close(pipes.release_fd);

    int failed = 0;
    if (egress_container_prepare_mounts(&own, paths, &failed) != 0) {
        report(pipes.error_fd, failed, errno);
        _exit(1);
    }
    pid_t entrypoint = raw_fork();
    if (entrypoint < 0) {
        report(pipes.error_fd, STEP_FORK, errno);
        _exit(1);
    }
    if (entrypoint == 0) {
        close(pipes.status_fd);
        run_entrypoint(&own, pipes.error_fd);
    }
    close(pipes.error_fd);
    for (int i = 0; i < 3; i++) close(lifted[i]);
    supervise(entrypoint, pipes.status_fd);
}
