/*
 * ftkit/common.h - version, status codes and handles shared by every module.
 *
 * ABI promise: within one FTK_ABI_VERSION, exported functions keep their
 * names, signatures and semantics, status codes keep their numbers, and new
 * functions may be added. Anything else bumps FTK_ABI_VERSION (and SOVERSION).
 */
#ifndef FTKIT_COMMON_H
#define FTKIT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  if defined(FTKIT_BUILDING)
#    define FTK_API __declspec(dllexport)
#  else
#    define FTK_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__)
#  define FTK_API __attribute__((visibility("default")))
#else
#  define FTK_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define FTK_VERSION_MAJOR 0
#define FTK_VERSION_MINOR 2
#define FTK_VERSION_PATCH 0
#define FTK_VERSION_STRING "0.2.0"
/* Bumped on any incompatible change of the exported interface. */
#define FTK_ABI_VERSION 2

/*
 * Status codes. Every function that can fail returns one of these; results
 * travel in out-parameters. The numbers are fixed forever and identical on
 * every OS (they are not errno values).
 */
enum {
    FTK_OK = 0,
    FTK_EEMPTY = -1,     /* nothing to take (queue/slot empty)           */
    FTK_EFULL = -2,      /* no room (bounded container at capacity)      */
    FTK_ETIMEDOUT = -3,  /* a timed wait expired                          */
    FTK_ECLOSED = -4,    /* the object was closed or shut down            */
    FTK_ENOMEM = -5,     /* allocation failed                             */
    FTK_EBADHANDLE = -6, /* NULL, destroyed, or wrong-kind handle         */
    FTK_EOVERFLOW = -7,  /* a count or size does not fit                  */
    FTK_EINVAL = -8,     /* an argument is out of range or inconsistent   */
    FTK_EBUSY = -9,      /* would block (try_ variants) or still in use   */
    FTK_EPERM = -10,     /* caller does not own what it tries to release  */
    FTK_ENOTFOUND = -11, /* key or item not present                       */
    FTK_EAGAIN = -12,    /* state changed underneath; retry              */
    FTK_EINTR = -13      /* a wait was cancelled (ftk_*_wake, or a signal) */
};
/* Lowest status code in use; codes below it are unknown. */
#define FTK_STATUS_MIN (-13)

/*
 * An opaque handle naming one ftkit object. FTK_NULL_HANDLE is never valid.
 * A handle encodes its kind and a generation, so using a destroyed handle,
 * or a handle of another kind, returns FTK_EBADHANDLE instead of touching
 * freed memory. Handles are values: copy and compare them freely, never
 * dereference them (the struct is never defined; the bits are not an
 * address). They are pointer-typed because every FFI passes a pointer
 * argument faster than a 64-bit integer that needs range checks (measured:
 * 40 ns less per call through cffi on CPython 3.13t).
 */
typedef struct ftk_object_s *ftk_handle_t;
#define FTK_NULL_HANDLE ((ftk_handle_t)0)

/* Library version as 0xMMmmpp (major, minor, patch). */
FTK_API unsigned int ftk_version(void);
/* Library version as "M.m.p"; static storage. */
FTK_API const char *ftk_version_string(void);
/* The FTK_ABI_VERSION the library was built with. Bindings refuse to run
 * against a library whose ABI version differs from their own. */
FTK_API int ftk_abi_version(void);

/* Human-readable message for a status code; "unknown status code" for codes
 * the library does not define. Never NULL; static storage. */
FTK_API const char *ftk_strerror(int status);
/* Symbolic name of a status code ("FTK_EEMPTY"), "FTK_UNKNOWN" if unknown. */
FTK_API const char *ftk_err_name(int status);

/* The status of the last failing value-returning call (*_v functions) made
 * by the calling thread, or FTK_OK. Thread-local. */
FTK_API int ftk_last_status(void);

/* What the calling thread's last call that moves words in or out of a
 * queue did, for bindings whose caller can be interrupted (a signal handler
 * raising) between such a call's return and the use of its result: the
 * word of ftk_queue_try_pop_v / ftk_queue_pop_v (0 when it took nothing),
 * the run count of ftk_queue_pop_runs_v, how many words went in for
 * ftk_queue_try_push (0 or 1), ftk_queue_push, ftk_queue_push_many and
 * ftk_queue_push_range_v; whether the word of ftk_gather_insert went in (0
 * or 1). Thread-local; set by those calls only. A binding
 * recovers the words an interrupted pop took and gives them back
 * (ftk_queue_unpop), so the pop had no effect, and learns whether an
 * interrupted push completed. Wait-free. */
FTK_API uint64_t ftk_last_result(void);

/* Number of live handles of any kind (for leak checks in tests). */
FTK_API size_t ftk_live_handles(void);

/* Containers free internal memory (and destroyed objects' state) through
 * epoch-based reclamation, a little after the last thread could see it.
 * This runs a reclamation pass now and returns how many blocks are still
 * waiting (0 once no thread is inside a library call). For tests and for
 * embedders that want memory back at a quiet point; never required. */
FTK_API size_t ftk_reclaim_collect(void);

#ifdef __cplusplus
}
#endif
#endif /* FTKIT_COMMON_H */
