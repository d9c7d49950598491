/* SPDX-License-Identifier: GPL-2.0 */
/* The test tools' start signal: a test makes them, looks, then lets them go. */
#ifndef MMIOTRAP_TOOLS_GO_H
#define MMIOTRAP_TOOLS_GO_H

/* Block until the test writes to or closes the FIFO at @path: 0, or -1 said on stderr by @prog. */
int wait_for_go(const char *prog, const char *path);

#endif
