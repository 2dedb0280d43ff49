/* clipsurgery preprocess (not implemented yet: its issue fills this file). */
#include "cli.h"

int cmd_preprocess(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "clipsurgery preprocess: not implemented yet\n");
    return CLI_RUNTIME;
}
