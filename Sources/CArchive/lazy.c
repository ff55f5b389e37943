#include "CArchive.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define POINTER(ret, name, params, args) static ret(*p_##name) params;
#define POINTER_VOID(name, params, args) static void(*p_##name) params;
BB_ARCHIVE_FUNCTIONS(POINTER, POINTER_VOID)

static pthread_once_t load_once = PTHREAD_ONCE_INIT;

/* Loaded on the first call of any wrapper. libarchive is a hard dependency of the image code (scripts/setup
   installs it): without it there is nothing sensible to return, so say why and stop. */
static void load(void) {
    void *handle = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        fprintf(stderr, "boxbench: dlopen libarchive.so.13: %s (run scripts/setup)\n", dlerror());
        abort();
    }
#define RESOLVE(name)                                                                                  \
    *(void **)&p_##name = dlsym(handle, #name);                                                        \
    if (!p_##name) {                                                                                   \
        fprintf(stderr, "boxbench: dlsym %s in libarchive.so.13: %s\n", #name, dlerror());             \
        abort();                                                                                       \
    }
#define RESOLVE_X(ret, name, params, args) RESOLVE(name)
#define RESOLVE_XV(name, params, args) RESOLVE(name)
    BB_ARCHIVE_FUNCTIONS(RESOLVE_X, RESOLVE_XV)
}

#define WRAPPER(ret, name, params, args)   \
    ret bb_##name params {                 \
        pthread_once(&load_once, load);    \
        return p_##name args;              \
    }
#define WRAPPER_VOID(name, params, args)   \
    void bb_##name params {                \
        pthread_once(&load_once, load);    \
        p_##name args;                     \
    }
BB_ARCHIVE_FUNCTIONS(WRAPPER, WRAPPER_VOID)
