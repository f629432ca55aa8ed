//! Rust threads sharing one libftkit queue and one atomic counter, through
//! the C ABI with hand-written declarations (no crates).
//!
//! Four producers push tagged words (producer << 32 | sequence) into a bounded
//! queue; four consumers pop until the queue is closed and empty, add each
//! sequence number to a shared `ftk_int64`, and check that every producer's
//! words reach them in order. Prints "ok <count> <sum>" and exits 0 when
//! every check passes.
//!
//! Build and run (see README.md):
//!   cargo run --release                          # ftkit.pc on PKG_CONFIG_PATH
//!   rustc --edition 2021 -O src/main.rs -o ftkit-rust -L "$LIBDIR" -C link-arg=-Wl,-rpath,"$LIBDIR"
use std::ffi::CStr;
use std::os::raw::{c_char, c_int};
use std::thread;

/// `ftk_handle_t`: an opaque pointer-typed value, never dereferenced.
#[repr(C)]
pub struct FtkObject {
    _opaque: [u8; 0],
}
type FtkHandle = *mut FtkObject;

const FTK_OK: c_int = 0;
const FTK_ECLOSED: c_int = -4;
const FTK_EBADHANDLE: c_int = -6;
const FTK_ABI_VERSION: c_int = 2;
const WAIT_FOREVER: i64 = -1;

#[link(name = "ftkit")]
extern "C" {
    fn ftk_abi_version() -> c_int;
    fn ftk_version_string() -> *const c_char;
    fn ftk_err_name(status: c_int) -> *const c_char;
    fn ftk_live_handles() -> usize;

    fn ftk_queue_new(capacity: usize, out: *mut FtkHandle) -> c_int;
    fn ftk_queue_free(h: FtkHandle) -> c_int;
    fn ftk_queue_push(h: FtkHandle, w: u64, timeout_ns: i64) -> c_int;
    fn ftk_queue_pop(h: FtkHandle, w: *mut u64, timeout_ns: i64) -> c_int;
    fn ftk_queue_close(h: FtkHandle, immediate: c_int) -> c_int;

    fn ftk_int64_new(initial: i64, out: *mut FtkHandle) -> c_int;
    fn ftk_int64_free(h: FtkHandle) -> c_int;
    fn ftk_int64_fetch_add(h: FtkHandle, v: i64, old: *mut i64) -> c_int;
    fn ftk_int64_load(h: FtkHandle, out: *mut i64) -> c_int;
}

/// A handle that may cross threads: libftkit documents every queue and int64
/// function as callable from any thread at any time on a live handle.
#[derive(Clone, Copy)]
struct Shared(FtkHandle);
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}
impl Shared {
    // A method (not `.0`) so that closures capture the whole Send value.
    fn get(self) -> FtkHandle {
        self.0
    }
}

fn status_name(st: c_int) -> String {
    // ftk_err_name never returns NULL and points to static storage.
    unsafe { CStr::from_ptr(ftk_err_name(st)) }.to_string_lossy().into_owned()
}

fn check(st: c_int, what: &str) {
    if st != FTK_OK {
        panic!("{what} failed: {}", status_name(st));
    }
}

const PRODUCERS: u64 = 4;
const CONSUMERS: usize = 4;
const PER_PRODUCER: u64 = 50_000;

fn main() {
    let abi = unsafe { ftk_abi_version() };
    assert_eq!(abi, FTK_ABI_VERSION, "libftkit has another ABI version");
    let live_before = unsafe { ftk_live_handles() };

    let mut q: FtkHandle = std::ptr::null_mut();
    let mut n: FtkHandle = std::ptr::null_mut();
    check(unsafe { ftk_queue_new(64, &mut q) }, "ftk_queue_new"); // bounded: producers wait
    check(unsafe { ftk_int64_new(0, &mut n) }, "ftk_int64_new");
    let (q, n) = (Shared(q), Shared(n));

    let popped: usize = thread::scope(|s| {
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                s.spawn(move || {
                    let mut last = [0u64; PRODUCERS as usize];
                    let mut count = 0usize;
                    loop {
                        let mut w = 0u64;
                        let st = unsafe { ftk_queue_pop(q.get(), &mut w, WAIT_FOREVER) };
                        if st == FTK_ECLOSED {
                            return count; // closed and empty
                        }
                        check(st, "ftk_queue_pop");
                        let (p, seq) = ((w >> 32) as usize, w & 0xffff_ffff);
                        assert!(seq > last[p], "producer {p}: {seq} after {}", last[p]);
                        last[p] = seq;
                        check(unsafe { ftk_int64_fetch_add(n.get(), seq as i64, std::ptr::null_mut()) },
                              "ftk_int64_fetch_add");
                        count += 1;
                    }
                })
            })
            .collect();
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                s.spawn(move || {
                    for seq in 1..=PER_PRODUCER {
                        check(unsafe { ftk_queue_push(q.get(), (p << 32) | seq, WAIT_FOREVER) },
                              "ftk_queue_push");
                    }
                })
            })
            .collect();
        for t in producers {
            t.join().expect("a producer panicked");
        }
        // Graceful close: consumers take what is left, then get FTK_ECLOSED.
        check(unsafe { ftk_queue_close(q.get(), 0) }, "ftk_queue_close");
        consumers.into_iter().map(|t| t.join().expect("a consumer panicked")).sum()
    });

    let mut sum = 0i64;
    check(unsafe { ftk_int64_load(n.get(), &mut sum) }, "ftk_int64_load");
    let want_count = (PRODUCERS * PER_PRODUCER) as usize;
    let want_sum = (PRODUCERS * PER_PRODUCER * (PER_PRODUCER + 1) / 2) as i64;
    assert_eq!(popped, want_count, "words lost or duplicated");
    assert_eq!(sum, want_sum, "counter lost updates");

    check(unsafe { ftk_queue_free(q.get()) }, "ftk_queue_free");
    check(unsafe { ftk_int64_free(n.get()) }, "ftk_int64_free");
    // A destroyed handle is refused with a status code, never a crash.
    let st = unsafe { ftk_int64_load(n.get(), &mut sum) };
    assert_eq!(st, FTK_EBADHANDLE, "use after free gave {}", status_name(st));
    assert_eq!(unsafe { ftk_live_handles() }, live_before, "handles leaked");

    let version = unsafe { CStr::from_ptr(ftk_version_string()) }.to_string_lossy();
    println!("ok {popped} {sum} (libftkit {version})");
}
