/* clipsurgery heatmap (not implemented yet: its issue fills this file). */
#include "cli.h"

int cmd_heatmap(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "clipsurgery heatmap: not implemented yet\n");
    return CLI_RUNTIME;
}
