/*
 * Guest RAM that shrinks under us. The frontend owns the files behind guest memory: a VMM that
 * truncates one after giving it to us (a regular file, or a memfd without F_SEAL_SHRINK; QEMU's
 * memory-backend-file cannot seal, memory-backend-memfd seals unless seal=off) turns our next
 * access to the lost pages into SIGBUS, which would kill the daemon and every guest process
 * waiting on it. The kernel's own copies (preadv/pwritev into guest memory) get EFAULT instead.
 *
 * The handler below recovers: a SIGBUS (BUS_ADRERR) inside a range we mapped as guest memory
 * puts a private zero page over the lost one, so the access that faulted completes (reads give
 * zeros, writes go nowhere), and marks the range: from then on gmem refuses to translate
 * addresses in it (log line, -EFAULT for those requests). Any other SIGBUS goes to the handler
 * that was there before (a sanitizer's) or the default action, as if we were not here.
 *
 * The table is lock-free so the handler can read it: a slot is published by its start address
 * (release) after its length; removing it clears the start before the range is unmapped.
 */
#include "virtio/gmem.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "log.h"

#define GUARD_SLOTS (2 * GMEM_MAX_REGIONS) /* a new table is mapped before the old one goes */

struct guard_slot {
	_Atomic uintptr_t start; /* 0: free */
	_Atomic uintptr_t len;
	_Atomic uintptr_t align; /* the mapping's page size (huge pages for hugetlbfs) */
	atomic_bool faulted;
	atomic_bool taken; /* claimed by gmem_guard_add, until gmem_guard_remove */
};

static struct guard_slot slots[GUARD_SLOTS];
static struct sigaction old_action;
static atomic_bool installed;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static uintptr_t sys_page; /* set before the handler is installed */

/* The page of the mapping around addr becomes a private zero page: a huge page when the
 * mapping is made of them (hugetlbfs: start and length multiples of its page size), else the
 * system's page. Never memory beside the mapping (another region, the heap, a stack). */
static bool patch_page(struct guard_slot *s, uintptr_t start, uintptr_t addr)
{
	uintptr_t align = atomic_load(&s->align);
	uintptr_t len = (atomic_load(&s->len) + sys_page - 1) & ~(sys_page - 1);
	uintptr_t page;
	long p;

	if (align < sys_page || ((start | len) & (align - 1)))
		align = sys_page;
	page = addr & ~(align - 1);
	/* The raw system call: the handler may interrupt the libc allocator. */
	p = syscall(SYS_mmap, (void *)page, (size_t)align, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	return p != -1 && (uintptr_t)p == page;
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t addr = (uintptr_t)si->si_addr;

	(void)uc;
	if (si->si_code == BUS_ADRERR) {
		for (unsigned i = 0; i < GUARD_SLOTS; i++) {
			struct guard_slot *s = &slots[i];
			uintptr_t start = atomic_load_explicit(&s->start, memory_order_acquire);

			if (start == 0 || addr - start >= atomic_load(&s->len))
				continue;
			if (!patch_page(s, start, addr))
				break;
			atomic_store(&s->faulted, true);
			return; /* the access is retried, on the zero page */
		}
	}
	/* Not ours: the previous disposition, then the access faults again and gets it. */
	sigaction(sig, &old_action, NULL);
}

static void install(void)
{
	struct sigaction sa;

	sys_page = (uintptr_t)sysconf(_SC_PAGESIZE);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &old_action) < 0) {
		log_warn("installing the SIGBUS handler for guest memory failed: %s; a frontend "
			 "that truncates guest RAM after mapping it would kill the daemon",
			 strerror(errno));
		return;
	}
	atomic_store(&installed, true);
}

int gmem_guard_add(void *base, size_t len, uint64_t align)
{
	pthread_once(&install_once, install);
	if (!atomic_load(&installed) || len == 0)
		return -1;
	for (int i = 0; i < GUARD_SLOTS; i++) {
		struct guard_slot *s = &slots[i];

		if (atomic_exchange(&s->taken, true))
			continue;
		atomic_store(&s->len, (uintptr_t)len);
		atomic_store(&s->align, (uintptr_t)align);
		atomic_store(&s->faulted, false);
		atomic_store_explicit(&s->start, (uintptr_t)base, memory_order_release);
		return i;
	}
	log_warn_rl("more than %d guest memory mappings: the new one is not guarded against "
		    "truncation by the frontend",
		    GUARD_SLOTS);
	return -1;
}

void gmem_guard_remove(int slot)
{
	if (slot < 0 || slot >= GUARD_SLOTS)
		return;
	atomic_store_explicit(&slots[slot].start, 0, memory_order_release);
	atomic_store(&slots[slot].taken, false);
}

bool gmem_guard_faulted(int slot)
{
	return slot >= 0 && slot < GUARD_SLOTS &&
	       atomic_load_explicit(&slots[slot].faulted, memory_order_relaxed);
}
