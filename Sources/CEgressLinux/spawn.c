// Starting processes with posix_spawn: descriptors and signals set up for the child, nothing of
// ours running between fork and exec.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include "CEgressLinux.h"

extern char **environ;

static int wire(posix_spawn_file_actions_t *actions, int fd, int target, int flags) {
    if (fd >= 0) return posix_spawn_file_actions_adddup2(actions, fd, target);
    return posix_spawn_file_actions_addopen(actions, target, "/dev/null", flags, 0);
}

egress_error egress_spawn(const char *path, char *const argv[], char *const envp[], int stdin_fd, int stdout_fd,
                          int stderr_fd, pid_t *pid_out) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int code = posix_spawn_file_actions_init(&actions);
    if (code != 0) return egress_fail("posix_spawn_file_actions_init", code);
    code = posix_spawnattr_init(&attributes);
    if (code != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return egress_fail("posix_spawnattr_init", code);
    }
    const char *step = "posix_spawn_file_actions";
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    if ((code = wire(&actions, stdin_fd, STDIN_FILENO, O_RDONLY)) == 0 &&
        (code = wire(&actions, stdout_fd, STDOUT_FILENO, O_WRONLY)) == 0 &&
        (code = wire(&actions, stderr_fd, STDERR_FILENO, O_WRONLY)) == 0 &&
        (code = posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1)) == 0) {
        step = "posix_spawnattr";
        if ((code = posix_spawnattr_setsigmask(&attributes, &none)) == 0 &&
            (code = posix_spawnattr_setsigdefault(&attributes, &all)) == 0 &&
            (code = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) == 0) {
            step = "posix_spawn";
            code = posix_spawn(pid_out, path, &actions, &attributes, argv, envp != NULL ? envp : environ);
        }
    }
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return code == 0 ? egress_ok() : egress_fail(step, code);
}
