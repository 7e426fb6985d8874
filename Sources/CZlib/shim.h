#ifndef VMP3_CZLIB_SHIM_H
#define VMP3_CZLIB_SHIM_H

// zlib, for its CRC-32: the checksum S3 verifies on every upload (x-amz-checksum-crc32).
#include <zlib.h>

#endif
