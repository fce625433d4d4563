// Finding this process's sockets by their SO_COOKIE, to take them over.
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

/// The most sockets one scan looks for.
enum { MAXIMUM_COOKIES = 8 };

egress_error egress_duplicate_sockets_with_cookies(const uint64_t *cookies, size_t count, int *fds_out) {
    if (cookies == NULL || fds_out == NULL || count == 0 || count > MAXIMUM_COOKIES) {
        return egress_fail("find sockets by cookie", EINVAL);
    }
    for (size_t i = 0; i < count; i++) {
        for (size_t j = 0; j < i; j++) {
            if (cookies[i] == cookies[j]) return egress_fail("find sockets by cookie", EINVAL);
        }
    }
    int found[MAXIMUM_COOKIES];
    for (size_t i = 0; i < count; i++) found[i] = -1;
    DIR *directory = opendir("/proc/self/fd");
    if (directory == NULL) return egress_fail("opendir(/proc/self/fd)", errno);
    int own = dirfd(directory);
    egress_error result = egress_ok();
    size_t missing = count;
    struct dirent *entry;
    while (missing > 0 && (entry = readdir(directory)) != NULL) {
        char *end = NULL;
        long fd = strtol(entry->d_name, &end, 10);
        if (end == entry->d_name || *end != '\0' || fd == own) continue;
        uint64_t cookie = 0;
        socklen_t length = sizeof(cookie);
        if (getsockopt((int)fd, SOL_SOCKET, SO_COOKIE, &cookie, &length) != 0) continue;
        for (size_t i = 0; i < count; i++) {
            // A socket open under two descriptors is taken once.
            if (cookies[i] != cookie || found[i] >= 0) continue;
            found[i] = fcntl((int)fd, F_DUPFD_CLOEXEC, 0);
            if (found[i] < 0) result = egress_fail("fcntl(F_DUPFD_CLOEXEC)", errno);
            else missing--;
            break;
        }
        if (result.code != 0) break;
    }
    closedir(directory);
    if (result.code == 0 && missing > 0) result = egress_fail("find socket by cookie", ENOENT);
    if (result.code != 0) {
        for (size_t i = 0; i < count; i++) {
            if (found[i] >= 0) close(found[i]);
        }
        return result;
    }
    for (size_t i = 0; i < count; i++) fds_out[i] = found[i];
    return result;
}
