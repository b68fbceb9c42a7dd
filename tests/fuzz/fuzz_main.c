/*
 * The entry of a libFuzzer binary (-Dfuzz=true). Every program of such a build links libFuzzer
 * without its main (the top-level meson.build: the coverage hooks live there), so a fuzz target
 * brings this main, which hands the command line to the libFuzzer driver.
 */
#include "fuzz.h"

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*cb)(const uint8_t *data, size_t size));
int main(int argc, char **argv);

int main(int argc, char **argv)
{
	return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}
