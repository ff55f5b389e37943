#include "CArchive.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define POINTER(ret, name, params, args) static ret(*p_##name) params;
#define POINTER_VOID(name, params, args) static void(*p_##name) params;
BB_ARCHIVE_FUNCTIONS(POINTER, POINTER_VOID)

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[512];
static int loaded;

static void load(void) {
    void *handle = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(load_error, sizeof load_error, "dlopen libarchive.so.13: %s (run scripts/setup)", dlerror());
        return;
    }
#define RESOLVE(name)                                                                                  \
    *(void **)&p_##name = dlsym(handle, #name);                                                        \
    if (!p_##name) {                                                                                   \
        snprintf(load_error, sizeof load_error, "dlsym %s in libarchive.so.13: %s", #name, dlerror()); \
        return;                                                                                        \
    }
#define RESOLVE_X(ret, name, params, args) RESOLVE(name)
#define RESOLVE_XV(name, params, args) RESOLVE(name)
    BB_ARCHIVE_FUNCTIONS(RESOLVE_X, RESOLVE_XV)
    loaded = 1;
}

const char *bb_archive_load(void) {
    pthread_once(&load_once, load);
    return loaded ? NULL : load_error;
}

/* The image store checks bb_archive_load() when it opens; a wrapper reached without libarchive is a bug: say so. */
static void ensure_loaded(const char *name) {
    if (bb_archive_load() == NULL) return;
    fprintf(stderr, "boxbench: %s: %s\n", name, load_error);
    abort();
}

#define WRAPPER(ret, name, params, args)   \
    ret bb_##name params {                 \
        ensure_loaded(#name);              \
        return p_##name args;              \
    }
#define WRAPPER_VOID(name, params, args)   \
    void bb_##name params {                \
        ensure_loaded(#name);              \
        p_##name args;                     \
    }
BB_ARCHIVE_FUNCTIONS(WRAPPER, WRAPPER_VOID)
