/* clipsurgery labels (not implemented yet: its issue fills this file). */
#include "cli.h"

int cmd_labels(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "clipsurgery labels: not implemented yet\n");
    return CLI_RUNTIME;
}
