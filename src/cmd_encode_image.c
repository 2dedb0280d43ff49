/* clipsurgery encode-image (not implemented yet: its issue fills this file). */
#include "cli.h"

int cmd_encode_image(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "clipsurgery encode-image: not implemented yet\n");
    return CLI_RUNTIME;
}
