/*
 * error.c — error names and messages, generated from PRANGE_ERRNO_MAP (prange.h).
 */
#include "prange.h"

const char *prange_strerror(int err)
{
    if (err == 0) return "success";
    switch (err) {
#define PRANGE__ERR_MSG(name, value, msg) case value: return msg;
        PRANGE_ERRNO_MAP(PRANGE__ERR_MSG)
#undef PRANGE__ERR_MSG
    }
    return "unknown error";
}

const char *prange_err_name(int err)
{
    if (err == 0) return "0";
    switch (err) {
#define PRANGE__ERR_NAME(name, value, msg) case value: return "PRANGE_" #name;
        PRANGE_ERRNO_MAP(PRANGE__ERR_NAME)
#undef PRANGE__ERR_NAME
    }
    return "PRANGE_EUNKNOWN";
}

const char *prange_version_string(void)
{
#define PRANGE__STR2(x) #x
#define PRANGE__STR(x) PRANGE__STR2(x)
    return PRANGE__STR(PRANGE_VERSION_MAJOR) "." PRANGE__STR(PRANGE_VERSION_MINOR) "." PRANGE__STR(
        PRANGE_VERSION_PATCH);
}

int prange_version(void) { return PRANGE_VERSION; }
