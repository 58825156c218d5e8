#include "CSystemd.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

int csystemd_notify(int unset_environment, const char *state) {
    return sd_notify(unset_environment, state);
}

int csystemd_listen_fds_with_names(int unset_environment, char ***names) {
    return sd_listen_fds_with_names(unset_environment, names);
}

void csystemd_free_names(char **names, int count) {
    if (names == NULL) return;
    for (int i = 0; i < count; i++) free(names[i]);
    free(names);
}

int csystemd_listen_fds_start(void) {
    return SD_LISTEN_FDS_START;
}

int csystemd_is_listening_unix_socket(int fd) {
    return sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0);
}

int csystemd_watchdog_enabled(int unset_environment, uint64_t *usec) {
    return sd_watchdog_enabled(unset_environment, usec);
}

int csystemd_journal_sendv(const struct iovec *iov, int n) {
    return sd_journal_sendv(iov, n);
}
