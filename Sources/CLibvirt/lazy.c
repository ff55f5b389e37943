#include "CLibvirt.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define POINTER(ret, name, params, args) static ret(*p_##name) params;
#define POINTER_VOID(name, params, args) static void(*p_##name) params;
BB_LIBVIRT_FUNCTIONS(POINTER, POINTER_VOID)

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[512];
static int loaded;

static void load(void) {
    void *handle = dlopen("libvirt.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(load_error, sizeof load_error, "dlopen libvirt.so.0: %s", dlerror());
        return;
    }
#define RESOLVE(name)                                                                               \
    *(void **)&p_##name = dlsym(handle, #name);                                                     \
    if (!p_##name) {                                                                                \
        snprintf(load_error, sizeof load_error, "dlsym %s in libvirt.so.0: %s", #name, dlerror()); \
        return;                                                                                     \
    }
#define RESOLVE_X(ret, name, params, args) RESOLVE(name)
#define RESOLVE_XV(name, params, args) RESOLVE(name)
    BB_LIBVIRT_FUNCTIONS(RESOLVE_X, RESOLVE_XV)
    loaded = 1;
}

const char *bb_libvirt_load(void) {
    pthread_once(&load_once, load);
    return loaded ? NULL : load_error;
}

// A call before a successful bb_libvirt_load() is a programming error: say which, instead of jumping to NULL.
static void not_loaded(const char *name) {
    fprintf(stderr, "boxbench: %s called before libvirt was loaded (%s)\n", name,
            load_error[0] ? load_error : "bb_libvirt_load not called");
    abort();
}

#define WRAPPER(ret, name, params, args)        \
    ret bb_##name params {                      \
        if (!loaded) not_loaded(#name);         \
        return p_##name args;                   \
    }
#define WRAPPER_VOID(name, params, args)        \
    void bb_##name params {                     \
        if (!loaded) not_loaded(#name);         \
        p_##name args;                          \
    }
BB_LIBVIRT_FUNCTIONS(WRAPPER, WRAPPER_VOID)
