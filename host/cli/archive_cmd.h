/*
 * archive_cmd.h - `rendezvous archive`: print the decoy's archive (segment
 * files or topic) as JSON lines, or replay it onto a requests topic.
 */
#ifndef RV_ARCHIVE_CMD_H
#define RV_ARCHIVE_CMD_H

#include "archive.h"

/* What to do with each archived record. A legacy record is the JSON object
 * of an earlier version (in a->value, no headers). 0 to go on. */
typedef int (*rv_archive_record_cb)(void *ctx, const rv_archived *a, int legacy);

/* Every record of the archive in dir's segment files, or else of topic on
 * brokers (as it is now), in order. The number of bad records skipped (said
 * on stderr), or -1 when it could not be read or fn stopped. */
long rv_archive_each(const char *dir, const char *topic, const char *brokers,
                     rv_archive_record_cb fn, void *ctx);

/* argv[0] is "archive". Returns the exit status: 0, 1 when a record was
 * corrupt or could not be replayed, 2 on bad usage. */
int rv_archive_main(int argc, char **argv);

#endif
