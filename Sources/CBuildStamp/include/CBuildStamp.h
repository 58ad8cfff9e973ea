#ifndef CBUILDSTAMP_H
#define CBUILDSTAMP_H

/// The commit this binary was built from, or "" when the build was not stamped.
///
/// Package.swift sets FORWARDER_BUILD_COMMIT from the environment of `swift build`; keeping it
/// in this one-function target means a new commit recompiles one C file, not the forwarder.
const char *forwarder_build_commit(void);

#endif
