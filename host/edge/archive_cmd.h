/*
 * archive_cmd.h - `rendezvous archive`: print the decoy's archive (segment
 * files or topic) as JSON lines, or replay it onto a requests topic.
 */
#ifndef RV_ARCHIVE_CMD_H
#define RV_ARCHIVE_CMD_H

/* argv[0] is "archive". Returns the exit status: 0, 1 when a record was
 * corrupt or could not be replayed, 2 on bad usage. */
int rv_archive_main(int argc, char **argv);

#endif
