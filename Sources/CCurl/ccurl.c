#include "CCurl.h"

#include <sys/mman.h>

size_t ccurl_writefunc_pause(void) {
    return CURL_WRITEFUNC_PAUSE;
}

size_t ccurl_readfunc_abort(void) {
    return CURL_READFUNC_ABORT;
}

int ccurl_pause_cont(void) {
    return CURLPAUSE_CONT;
}

CURLcode ccurl_global_init(void) {
    /* PROTOCOLS_STR needs 7.85.0; CAINFO_BLOB, PREREQFUNCTION and curl_multi_wakeup are older. */
    const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);
    if (info == NULL || info->version_num < 0x075500) {
        return CURLE_NOT_BUILT_IN;
    }
    if ((info->features & CURL_VERSION_SSL) == 0) {
        return CURLE_NOT_BUILT_IN;
    }
    return curl_global_init(CURL_GLOBAL_DEFAULT);
}

CURLcode ccurl_easy_setopt_long(CURL *easy, CURLoption option, long value) {
    return curl_easy_setopt(easy, option, value);
}

CURLcode ccurl_easy_setopt_string(CURL *easy, CURLoption option, const char *value) {
    return curl_easy_setopt(easy, option, value);
}

CURLcode ccurl_easy_setopt_pointer(CURL *easy, CURLoption option, void *value) {
    return curl_easy_setopt(easy, option, value);
}

CURLcode ccurl_easy_setopt_blob(CURL *easy, CURLoption option, const void *data, size_t length) {
    struct curl_blob blob;
    /* libcurl only reads through this pointer: CURL_BLOB_COPY makes it take its own copy. */
    blob.data = (void *)data;
    blob.len = length;
    blob.flags = CURL_BLOB_COPY;
    return curl_easy_setopt(easy, option, &blob);
}

CURLcode ccurl_easy_set_postfields_copy(CURL *easy, const void *data, size_t length) {
    static const char empty[1] = {0};
    CURLcode rc = curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)length);
    if (rc != CURLE_OK) {
        return rc;
    }
    return curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, data != NULL ? data : (const void *)empty);
}

CURLcode ccurl_easy_set_write_callback(CURL *easy, ccurl_data_callback callback, void *userdata) {
    CURLcode rc = curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, callback);
    if (rc != CURLE_OK) {
        return rc;
    }
    return curl_easy_setopt(easy, CURLOPT_WRITEDATA, userdata);
}

CURLcode ccurl_easy_set_header_callback(CURL *easy, ccurl_data_callback callback, void *userdata) {
    CURLcode rc = curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, callback);
    if (rc != CURLE_OK) {
        return rc;
    }
    return curl_easy_setopt(easy, CURLOPT_HEADERDATA, userdata);
}

CURLcode ccurl_easy_set_xferinfo_callback(CURL *easy, ccurl_xferinfo_callback callback, void *userdata) {
    CURLcode rc = curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, callback);
    if (rc != CURLE_OK) {
        return rc;
    }
    rc = curl_easy_setopt(easy, CURLOPT_XFERINFODATA, userdata);
    if (rc != CURLE_OK) {
        return rc;
    }
    return curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
}

CURLcode ccurl_easy_set_prereq_callback(CURL *easy, ccurl_prereq_callback callback, void *userdata) {
    CURLcode rc = curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, callback);
    if (rc != CURLE_OK) {
        return rc;
    }
    return curl_easy_setopt(easy, CURLOPT_PREREQDATA, userdata);
}

CURLcode ccurl_easy_getinfo_long(CURL *easy, CURLINFO info, long *value) {
    return curl_easy_getinfo(easy, info, value);
}

CURLMcode ccurl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

int ccurl_memfd_create(const char *name) {
    return memfd_create(name, MFD_CLOEXEC);
}
