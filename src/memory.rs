//! Memory the process has freed, given back to the operating system at once where the
//! serving process's peak would otherwise be made; and reads announced to the CPU ahead.

/// Returns what the allocator holds freed to the operating system now. The allocator
/// (mimalloc, `main.rs`) keeps freed large blocks a while for reuse; a build that copies a
/// few hundred megabytes out of chunks it frees as it goes (the catalog's suggest keys)
/// would otherwise hold both copies at once. Harmless under another global allocator: the
/// call then finds nothing to give back.
pub fn give_back_freed() {
    // SAFETY: `mi_collect` takes no pointers; it walks the allocator's own free lists and
    // may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

/// How many steps of a loop ahead of its read an entry is announced: enough for a cache
/// miss to arrive meanwhile, few enough that it is still cached when read.
pub const PREFETCH_AHEAD: usize = 8;

/// Asks the CPU to bring `items[i]` (if there is one) into its cache ahead of a read: a
/// loop over scattered entries of large arrays waits on one cache miss after another, and
/// announcing the entries a few steps ahead lets the misses overlap. A hint only.
#[inline]
pub fn prefetch<T>(items: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(item) = items.get(i) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch reads nothing into the program and cannot fault; the address is
        // of a live element besides.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((item as *const T).cast()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (items, i);
}
