// Finding one of this process's sockets by its SO_COOKIE, to take it over.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "CEgressLinux.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

egress_error egress_duplicate_socket_with_cookie(uint64_t cookie, int *fd_out) {
    DIR *directory = opendir("/proc/self/fd");
    if (directory == NULL) return egress_fail("opendir(/proc/self/fd)", errno);
    int own = dirfd(directory);
    egress_error result = egress_fail("find socket by cookie", ENOENT);
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        char *end = NULL;
        long fd = strtol(entry->d_name, &end, 10);
        if (end == entry->d_name || *end != '\0' || fd == own) continue;
        uint64_t found = 0;
        socklen_t length = sizeof(found);
        if (getsockopt((int)fd, SOL_SOCKET, SO_COOKIE, &found, &length) != 0 || found != cookie) continue;
        int duplicate = fcntl((int)fd, F_DUPFD_CLOEXEC, 0);
        result = duplicate >= 0 ? egress_ok() : egress_fail("fcntl(F_DUPFD_CLOEXEC)", errno);
        if (duplicate >= 0) *fd_out = duplicate;
        break;
    }
    closedir(directory);
    return result;
}
