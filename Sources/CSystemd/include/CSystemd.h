#ifndef CSYSTEMD_H
#define CSYSTEMD_H

#include <stdint.h>
#include <sys/uio.h>

/// Thin, non-variadic wrappers over the libsystemd calls gigachatd uses, so Swift sees plain C
/// functions with stable signatures and the header's macros stay on the C side.

/// sd_notify(3): send a state string such as "READY=1" to $NOTIFY_SOCKET. Returns > 0 when sent,
/// 0 when not running under a notify-aware manager, < 0 (negative errno) on failure.
int csystemd_notify(int unset_environment, const char *state);

/// sd_listen_fds_with_names(3): number of sockets passed by socket activation (starting at fd 3),
/// with their FileDescriptorName= values in *names (free each and the array with csystemd_free_names).
int csystemd_listen_fds_with_names(int unset_environment, char ***names);
void csystemd_free_names(char **names, int count);

/// The first socket-activation descriptor (SD_LISTEN_FDS_START).
int csystemd_listen_fds_start(void);

/// sd_is_socket_unix(3) for a listening stream socket: > 0 if it is one.
int csystemd_is_listening_unix_socket(int fd);

/// sd_watchdog_enabled(3): > 0 and *usec set when the manager expects WATCHDOG=1 pings.
int csystemd_watchdog_enabled(int unset_environment, uint64_t *usec);

/// sd_journal_sendv(3): one structured journal entry from "FIELD=value" iovecs.
int csystemd_journal_sendv(const struct iovec *iov, int n);

#endif
