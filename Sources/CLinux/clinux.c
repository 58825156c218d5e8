#include "CLinux.h"

#include <sys/prctl.h>
#include <sys/socket.h>

_Static_assert(sizeof(struct clinux_ucred) == sizeof(struct ucred), "struct clinux_ucred must match struct ucred");

int clinux_set_dumpable(int value) {
    return prctl(PR_SET_DUMPABLE, (unsigned long)value, 0, 0, 0);
}

int clinux_get_dumpable(void) {
    return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
}
