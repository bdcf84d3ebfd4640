/**
 * glibc malloc settings for mmcurate's processes. By default glibc gives a freed block of more than 128 KiB-32 MiB
 * back to the kernel (munmap, or a trim of the heap's top), so the next image frame of that size is zero-filled
 * page by page again: on a download of 4,000 photos that was 1.7 million page faults and a fifth of the process's
 * CPU time (docs/benchmarks.md). Frames up to 4 MiB (a 1 MP RGBA image) stay in the heap with these, and up to
 * 64 MiB of free heap is kept for reuse. bin/mmcurate sets them in its #! line; the Slurm batch scripts and the
 * Dockerfile set them too. A value already in the environment wins (except through the #! line, which cannot ask).
 */
export const MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: '4194304',
  MALLOC_TRIM_THRESHOLD_: '67108864',
};
