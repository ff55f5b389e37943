#ifndef BOXBENCH_CSHIM_H
#define BOXBENCH_CSHIM_H
#include <stdint.h>
#include <sys/types.h>
#endif
