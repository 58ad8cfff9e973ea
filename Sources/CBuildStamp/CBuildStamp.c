#include "CBuildStamp.h"

#ifndef FORWARDER_BUILD_COMMIT
#define FORWARDER_BUILD_COMMIT ""
#endif

const char *forwarder_build_commit(void) {
    return FORWARDER_BUILD_COMMIT;
}
