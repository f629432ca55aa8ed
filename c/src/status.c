/* status.c - version queries and status code names. */
#include "internal.h"

_Thread_local int ftk_tls_last_status;
_Thread_local uint64_t ftk_tls_last_result;

unsigned int ftk_version(void) {
    return (FTK_VERSION_MAJOR << 16) | (FTK_VERSION_MINOR << 8) | FTK_VERSION_PATCH;
}

const char *ftk_version_string(void) { return FTK_VERSION_STRING; }

int ftk_abi_version(void) { return FTK_ABI_VERSION; }

int ftk_last_status(void) { return ftk_tls_last_status; }

uint64_t ftk_last_result(void) { return ftk_tls_last_result; }

static const struct {
    const char *name;
    const char *message;
} status_table[] = {
    /* indexed by -status */
    {"FTK_OK", "success"},
    {"FTK_EEMPTY", "empty: nothing to take"},
    {"FTK_EFULL", "full: no room to add"},
    {"FTK_ETIMEDOUT", "timed out"},
    {"FTK_ECLOSED", "closed or shut down"},
    {"FTK_ENOMEM", "out of memory"},
    {"FTK_EBADHANDLE", "bad handle: NULL, destroyed or of another kind"},
    {"FTK_EOVERFLOW", "value or count out of range"},
    {"FTK_EINVAL", "invalid argument"},
    {"FTK_EBUSY", "busy: the operation would block"},
    {"FTK_EPERM", "not owned by the caller"},
    {"FTK_ENOTFOUND", "not found"},
    {"FTK_EAGAIN", "state changed: try again"},
    {"FTK_EINTR", "wait cancelled"},
};

_Static_assert(sizeof status_table / sizeof status_table[0] == 1 - FTK_STATUS_MIN,
               "status_table must cover every status code");

const char *ftk_strerror(int status) {
    if (status > 0 || status < FTK_STATUS_MIN) return "unknown status code";
    return status_table[-status].message;
}

const char *ftk_err_name(int status) {
    if (status > 0 || status < FTK_STATUS_MIN) return "FTK_UNKNOWN";
    return status_table[-status].name;
}
