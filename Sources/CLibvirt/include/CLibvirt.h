// libvirt, loaded on first use: linking libvirt.so pulls ~55 shared libraries into every boxbench start-up
// (~8 ms here, paid by `boxbench container run` too), so the VM arm dlopen()s it instead.
#pragma once
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

// Every libvirt function boxbench calls: X(return type, name, parameters, arguments); XV for void ones.
#define BB_LIBVIRT_FUNCTIONS(X, XV)                                                                           \
    X(virConnectPtr, virConnectOpen, (const char *name), (name))                                             \
    X(int, virConnectClose, (virConnectPtr conn), (conn))                                                    \
    X(int, virConnectGetLibVersion, (virConnectPtr conn, unsigned long *libVer), (conn, libVer))             \
    X(int, virConnectDomainEventRegisterAny,                                                                 \
      (virConnectPtr conn, virDomainPtr dom, int eventID, virConnectDomainEventGenericCallback cb,           \
       void *opaque, virFreeCallback freecb),                                                                \
      (conn, dom, eventID, cb, opaque, freecb))                                                              \
    X(int, virConnectDomainEventDeregisterAny, (virConnectPtr conn, int callbackID), (conn, callbackID))       \
    X(virDomainPtr, virDomainCreateXML, (virConnectPtr conn, const char *xmlDesc, unsigned int flags),       \
      (conn, xmlDesc, flags))                                                                                \
    X(virDomainPtr, virDomainDefineXML, (virConnectPtr conn, const char *xml), (conn, xml))                  \
    X(int, virDomainUndefine, (virDomainPtr domain), (domain))                                               \
    X(int, virDomainFree, (virDomainPtr domain), (domain))                                                   \
    X(const char *, virDomainGetName, (virDomainPtr domain), (domain))                                       \
    X(char *, virDomainGetXMLDesc, (virDomainPtr domain, unsigned int flags), (domain, flags))               \
    X(int, virDomainResume, (virDomainPtr domain), (domain))                                                 \
    X(int, virDomainDestroy, (virDomainPtr domain), (domain))                                                \
    X(int, virDomainIsActive, (virDomainPtr dom), (dom))                                                     \
    X(int, virDomainGetCPUStats,                                                                             \
      (virDomainPtr domain, virTypedParameterPtr params, unsigned int nparams, int start_cpu,                \
       unsigned int ncpus, unsigned int flags),                                                              \
      (domain, params, nparams, start_cpu, ncpus, flags))                                                    \
    X(int, virDomainMemoryStats,                                                                             \
      (virDomainPtr dom, virDomainMemoryStatPtr stats, unsigned int nr_stats, unsigned int flags),           \
      (dom, stats, nr_stats, flags))                                                                         \
    XV(virTypedParamsClear, (virTypedParameterPtr params, int nparams), (params, nparams))                   \
    XV(virSetErrorFunc, (void *userData, virErrorFunc handler), (userData, handler))                         \
    X(const char *, virGetLastErrorMessage, (void), ())                                                      \
    X(int, virEventRegisterDefaultImpl, (void), ())                                                          \
    X(int, virEventRunDefaultImpl, (void), ())

#define BB_LIBVIRT_DECLARE(ret, name, params, args) ret bb_##name params;
#define BB_LIBVIRT_DECLARE_VOID(name, params, args) void bb_##name params;
BB_LIBVIRT_FUNCTIONS(BB_LIBVIRT_DECLARE, BB_LIBVIRT_DECLARE_VOID)

/// Loads libvirt.so.0 and resolves every function above, once. NULL on success, else why it failed
/// ("dlopen libvirt.so.0: …" or "dlsym NAME: …"). Call before any bb_vir* function.
const char *bb_libvirt_load(void);
