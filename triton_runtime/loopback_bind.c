/*
 * loopback_bind: keep a process's listening sockets on the loopback interface.
 *
 * Triton 2.51 has --http-address, --grpc-address and --metrics-address, but no address flag for its
 * SageMaker frontend, which binds 0.0.0.0:<sagemaker-port>. Preloaded into `tritonserver` only
 * (LD_PRELOAD, set by triton_runtime.server.TritonServer), this library interposes bind(2) and
 * rewrites the wildcard addresses to loopback: INADDR_ANY (0.0.0.0) becomes 127.0.0.1 and
 * in6addr_any (::) becomes ::1. Every other address, and every non-IP socket, is bound as asked.
 *
 * It works because tritonserver is dynamically linked and calls glibc's bind() through the PLT
 * (`nm -D tritonserver` lists `U bind@GLIBC_2.2.5`). Built at `make setup` with the machine's C
 * compiler (python -m triton_runtime install; see triton_runtime/server.py, build_loopback_shim).
 *
 * Its constructor removes itself from LD_PRELOAD, so the processes tritonserver starts (the python
 * backend stubs) run without it: the rewrite applies to the server process alone.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SHIM_NAME "triton_loopback_bind"

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

/* Drop every LD_PRELOAD entry naming this library, keep the others (space or colon separated). */
__attribute__((constructor)) static void loopback_bind_forget_preload(void) {
    const char *preload = getenv("LD_PRELOAD");
    if (preload == NULL || strstr(preload, SHIM_NAME) == NULL) {
        return;
    }
    char *copy = strdup(preload);
    char *kept = calloc(strlen(preload) + 1, 1);
    if (copy == NULL || kept == NULL) {
        free(copy);
        free(kept);
        unsetenv("LD_PRELOAD");
        return;
    }
    char *save = NULL;
    for (char *entry = strtok_r(copy, " :", &save); entry != NULL; entry = strtok_r(NULL, " :", &save)) {
        if (strstr(entry, SHIM_NAME) != NULL) {
            continue;
        }
        if (kept[0] != '\0') {
            strcat(kept, ":");
        }
        strcat(kept, entry);
    }
    if (kept[0] == '\0') {
        unsetenv("LD_PRELOAD");
    } else {
        setenv("LD_PRELOAD", kept, 1);
    }
    free(copy);
    free(kept);
}

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static bind_fn real_bind = NULL;
    if (real_bind == NULL) {
        real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
    }
    if (addr != NULL && addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        struct sockaddr_in in4;
        memcpy(&in4, addr, sizeof in4);
        if (in4.sin_addr.s_addr == htonl(INADDR_ANY)) {
            in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return real_bind(fd, (const struct sockaddr *)&in4, sizeof in4);
        }
    } else if (addr != NULL && addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 in6;
        memcpy(&in6, addr, sizeof in6);
        if (IN6_IS_ADDR_UNSPECIFIED(&in6.sin6_addr)) {
            in6.sin6_addr = in6addr_loopback;
            return real_bind(fd, (const struct sockaddr *)&in6, sizeof in6);
        }
    }
    return real_bind(fd, addr, len);
}
