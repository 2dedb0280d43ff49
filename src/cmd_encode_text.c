/* clipsurgery encode-text (not implemented yet: its issue fills this file). */
#include "cli.h"

int cmd_encode_text(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "clipsurgery encode-text: not implemented yet\n");
    return CLI_RUNTIME;
}
