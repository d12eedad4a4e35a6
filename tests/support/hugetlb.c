/* Maps N huge pages of 2 MiB (MAP_HUGETLB) and writes to each, for the hugepageLimits
 * enforcement test. Prints "mmap: <error>" and exits 3 when the mapping is refused (the
 * reservation is charged to hugetlb.*.rsvd.max); with "noreserve" nothing is reserved and
 * a page the limit refuses kills it with SIGBUS when touched. Built static by the test. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1, size = 2UL << 20;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB;
	if (argc > 2 && strcmp(argv[2], "noreserve") == 0)
		flags |= MAP_NORESERVE;
	char *p = mmap(NULL, n * size, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED) {
		printf("mmap: %s\n", strerror(errno));
		return 3;
	}
	for (size_t i = 0; i < n; i++) {
		p[i * size] = 1;
		printf("touched %zu\n", i + 1);
		fflush(stdout);
	}
	return 0;
}
