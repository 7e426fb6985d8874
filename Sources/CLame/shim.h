#ifndef VMP3_CLAME_SHIM_H
#define VMP3_CLAME_SHIM_H

// Debian installs the header as /usr/include/lame/lame.h and ships no pkg-config file.
#include <lame/lame.h>

#endif
