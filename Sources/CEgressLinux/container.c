// Containers: an init process cloned into new pid, mount, network, UTS and IPC namespaces. It
// waits to be released (so the proxy can set up the network namespace first), gives itself a
// private /etc (an overlay over a private tmpfs), /proc, /sys and, with a root directory, /dev,
// then forks the entrypoint with a reduced capability set and stays as pid 1: it forwards
// signals to the entrypoint, reaps orphans and reports the entrypoint's wait status. When init
// ends, the kernel kills every other process of the pid namespace.
//
// Between clone and exec only system calls run: every string is prepared before the clone.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
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

static void run_entrypoint(const egress_container_spec *spec, int error_fd) {
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
static void supervise(pid_t entrypoint, int status_fd) {
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

typedef struct init_pipes {
    int release_fd, error_fd, status_fd;
} init_pipes;

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

static void run_init(const egress_container_spec *spec, const egress_container_paths *paths, init_pipes pipes) {
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

// MARK: Cloning on one long-lived thread

typedef struct clone_job {
    const egress_container_spec *spec;
    const egress_container_paths *paths;
    init_pipes child;
    pid_t pid;
    int pidfd;
    int netns_fd;
    int code;
    int done;
} clone_job;

static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t job_changed = PTHREAD_COND_INITIALIZER;
static clone_job *pending_job;
static pthread_once_t cloner_once = PTHREAD_ONCE_INIT;
static int cloner_error;

static void run_clone(clone_job *job) {
    int flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_PIDFD | SIGCHLD;
    int pidfd = -1;
    pid_t pid = (pid_t)syscall(SYS_clone, flags, 0, &pidfd, 0, 0);
    if (pid == 0) run_init(job->spec, job->paths, job->child);
    job->pid = pid;
    job->pidfd = pidfd;
    job->code = pid < 0 ? errno : 0;
    if (pid < 0) return;
    // Opened before init can end, so it is init's namespace even if the pid is reused later.
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
    job->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (job->netns_fd < 0) job->code = errno;
}

// The parent-death signal of a container's init fires when the thread that cloned it ends, so
// all clones happen on this thread, which lives as long as the process.
static void *cloner(void *unused) {
    (void)unused;
    pthread_mutex_lock(&job_lock);
    for (;;) {
        while (pending_job == NULL) pthread_cond_wait(&job_changed, &job_lock);
        clone_job *job = pending_job;
        pending_job = NULL;
        run_clone(job);
        job->done = 1;
        pthread_cond_broadcast(&job_changed);
    }
    return NULL;
}

static void start_cloner(void) {
    pthread_t thread;
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    cloner_error = pthread_create(&thread, NULL, cloner, NULL);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (cloner_error == 0) pthread_detach(thread);
}

static egress_error clone_on_cloner(clone_job *job) {
    pthread_once(&cloner_once, start_cloner);
    if (cloner_error != 0) return egress_fail("pthread_create(container cloner)", cloner_error);
    pthread_mutex_lock(&job_lock);
    while (pending_job != NULL) pthread_cond_wait(&job_changed, &job_lock);
    pending_job = job;
    pthread_cond_broadcast(&job_changed);
    while (!job->done) pthread_cond_wait(&job_changed, &job_lock);
    pthread_mutex_unlock(&job_lock);
    return job->code == 0 ? egress_ok() : egress_fail("clone(container namespaces)", job->code);
}

// MARK: API

static egress_error create_with_paths(const egress_container_spec *spec, const egress_container_paths *paths,
                                      egress_container *out) {
    int release[2], errors[2], status[2];
    if (pipe2(release, O_CLOEXEC) != 0) return egress_fail("pipe2", errno);
    if (pipe2(errors, O_CLOEXEC) != 0) {
        int code = errno;
        close(release[0]);
        close(release[1]);
        return egress_fail("pipe2", code);
    }
    if (pipe2(status, O_CLOEXEC) != 0) {
        int code = errno;
        close(release[0]);
        close(release[1]);
        close(errors[0]);
        close(errors[1]);
        return egress_fail("pipe2", code);
    }
    clone_job job = {spec, paths, {release[0], errors[1], status[1]}, 0, -1, -1, 0, 0};
    egress_error error = clone_on_cloner(&job);
    close(release[0]);
    close(errors[1]);
    close(status[1]);
    out->pid = job.pid;
    out->pidfd = job.pidfd;
    out->netns_fd = job.netns_fd;
    out->release_fd = release[1];
    out->error_fd = errors[0];
    out->status_fd = status[0];
    if (error.code != 0 && job.pid > 0) {
        // Cloned, but its namespace could not be opened: end it; nothing else happened.
        syscall(SYS_pidfd_send_signal, job.pidfd, SIGKILL, NULL, 0);
        int ignored;
        waitpid(job.pid, &ignored, 0);
    }
    if (error.code != 0) {
        egress_container_close(out);
        return error;
    }
    return egress_ok();
}

egress_error egress_container_create(const egress_container_spec *spec, egress_container *out) {
    egress_container_paths *paths = calloc(1, sizeof(*paths));
    if (paths == NULL) return egress_fail("calloc(container paths)", ENOMEM);
    egress_error error = egress_container_paths_make(spec, paths);
    if (error.code == 0) error = create_with_paths(spec, paths, out);
    free(paths);
    return error;
}

egress_error egress_container_start(egress_container *container) {
    char go = 1;
    ssize_t written = write(container->release_fd, &go, 1);
    int write_errno = errno;
    close(container->release_fd);
    container->release_fd = -1;
    if (written != 1) {
        close(container->error_fd);
        container->error_fd = -1;
        return egress_fail(egress_container_step_name(STEP_RELEASE), write_errno);
    }
    int record[2];
    size_t got = 0;
    while (got < sizeof(record)) {
        ssize_t n = read(container->error_fd, (char *)record + got, sizeof(record) - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(container->error_fd);
    container->error_fd = -1;
    if (got < sizeof(record)) return egress_ok();
    return egress_fail(egress_container_step_name(record[0]), record[1]);
}

int egress_container_wait(egress_container *container, int *status) {
    int value = 0;
    size_t got = 0;
    while (got < sizeof(value)) {
        ssize_t n = read(container->status_fd, (char *)&value + got, sizeof(value) - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(container->status_fd);
    container->status_fd = -1;
    int ignored;
    while (waitpid(container->pid, &ignored, 0) < 0 && errno == EINTR) {}
    if (got < sizeof(value)) return -1;
    *status = value;
    return 0;
}

egress_error egress_container_signal(int pidfd, int sig) {
    if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) != 0) return egress_fail("pidfd_send_signal", errno);
    return egress_ok();
}

void egress_container_close(egress_container *container) {
    int *fds[] = {&container->release_fd, &container->error_fd, &container->status_fd, &container->pidfd,
                  &container->netns_fd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (*fds[i] >= 0) close(*fds[i]);
        *fds[i] = -1;
    }
}
