//! Keeping the runtime's memory footprint small.

extern "C" {
    static __executable_start: u8;
    static etext: u8;
}

/// Maps our code one page per fault instead of the kernel's 64 KiB fault-around: xrun runs
/// briefly and touches a small, scattered part of its code, so fault-around would map (and
/// account as resident) mostly code it never runs.
pub fn trim_fault_around() {
    // SAFETY: the linker defines both symbols around the text segment; madvise only changes
    // how faults on our own mapping are served.
    unsafe {
        let start = &__executable_start as *const u8 as usize;
        let end = &etext as *const u8 as usize;
        let page = 4096;
        let start = start & !(page - 1);
        libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_RANDOM);
    }
}
