#ifndef CCURL_H
#define CCURL_H

#include <curl/curl.h>
#include <stddef.h>

/*
 * Non-variadic wrappers around libcurl for Swift, which cannot call C variadic functions.
 * Macros that the Swift importer cannot see (composite expressions) are re-exported as constants.
 */

/* Values of CURL_WRITEFUNC_PAUSE and CURLPAUSE_CONT, which Swift does not import as usable constants. */
size_t ccurl_writefunc_pause(void);
/* CURL_READFUNC_ABORT, a macro Swift cannot import. */
size_t ccurl_readfunc_abort(void);
int ccurl_pause_cont(void);

/* memfd_create(name, MFD_CLOEXEC): an anonymous file to hand libcurl as CURLOPT_CAINFO
 * (/proc/self/fd/N). libcurl caches the CA store it parses from a file per multi handle, but parses a
 * CAINFO_BLOB again for every connection. Returns -1 with errno set on failure. */
int ccurl_memfd_create(const char *name);

/* curl_global_init(CURL_GLOBAL_DEFAULT), refusing libcurl builds older than the features we rely on. */
CURLcode ccurl_global_init(void);

CURLcode ccurl_easy_setopt_long(CURL *easy, CURLoption option, long value);
CURLcode ccurl_easy_setopt_string(CURL *easy, CURLoption option, const char *value);
CURLcode ccurl_easy_setopt_pointer(CURL *easy, CURLoption option, void *value);
/* Sets a CURLOPTTYPE_BLOB option; libcurl copies the bytes (CURL_BLOB_COPY). */
CURLcode ccurl_easy_setopt_blob(CURL *easy, CURLoption option, const void *data, size_t length);
/* Sets POSTFIELDSIZE_LARGE and then COPYPOSTFIELDS, so the body may contain NUL bytes and may be empty. */
CURLcode ccurl_easy_set_postfields_copy(CURL *easy, const void *data, size_t length);

typedef size_t (*ccurl_data_callback)(char *data, size_t size, size_t count, void *userdata);
typedef int (*ccurl_xferinfo_callback)(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                                       curl_off_t ultotal, curl_off_t ulnow);
typedef int (*ccurl_prereq_callback)(void *userdata, char *primary_ip, char *local_ip,
                                     int primary_port, int local_port);

CURLcode ccurl_easy_set_write_callback(CURL *easy, ccurl_data_callback callback, void *userdata);
CURLcode ccurl_easy_set_header_callback(CURL *easy, ccurl_data_callback callback, void *userdata);
/* Also turns progress reporting on (CURLOPT_NOPROGRESS 0), without which the callback is never called. */
CURLcode ccurl_easy_set_xferinfo_callback(CURL *easy, ccurl_xferinfo_callback callback, void *userdata);
CURLcode ccurl_easy_set_prereq_callback(CURL *easy, ccurl_prereq_callback callback, void *userdata);

CURLcode ccurl_easy_getinfo_long(CURL *easy, CURLINFO info, long *value);

CURLMcode ccurl_multi_setopt_long(CURLM *multi, CURLMoption option, long value);

#endif
