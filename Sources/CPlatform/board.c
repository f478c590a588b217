// The board profile this binary was built for. The Makefile passes both values with -D from
// boards/<board>.conf; a plain `swift build` (host development) gets the empty fallbacks.
#include "CPlatform.h"

#ifndef MIDGE_BOARD_NAME
#define MIDGE_BOARD_NAME "host"
#endif
#ifndef MIDGE_BOARD_DEFAULTS
#define MIDGE_BOARD_DEFAULTS ""
#endif

const char *midge_board_name(void) { return MIDGE_BOARD_NAME; }
const char *midge_board_defaults(void) { return MIDGE_BOARD_DEFAULTS; }
