#ifndef C_BUILD_INFO_H
#define C_BUILD_INFO_H

// The git revision the binary was built from. The Makefile passes it as a C define
// (-Xcc -DEXPORTER_REVISION=\"abc123\"), the one way to hand a string to a SwiftPM build.
const char *exporter_revision(void);

#endif
