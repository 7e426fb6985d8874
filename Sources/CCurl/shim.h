#ifndef VMP3_CCURL_SHIM_H
#define VMP3_CCURL_SHIM_H

#include <curl/curl.h>

// curl_easy_setopt is variadic (its third argument's type depends on the option): Swift cannot
// call it. One wrapper per argument type.
static inline CURLcode vmp3_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode vmp3_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode vmp3_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode vmp3_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

typedef size_t (*vmp3_curl_read_callback)(char *buffer, size_t size, size_t count, void *context);

static inline CURLcode vmp3_curl_setopt_read_function(CURL *handle, vmp3_curl_read_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_READFUNCTION, callback);
}


// curl_easy_getinfo is variadic too.
static inline CURLcode vmp3_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

#endif
