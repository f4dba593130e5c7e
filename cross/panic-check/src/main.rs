//! Prints "panic-check: ok" only if panics unwind on this target: a panicking thread is
//! reported by `join` (with its message), destructors run during the unwind, and
//! `catch_unwind` catches a panic in the main thread; the process then exits 0.
//! It first looks up a symbol with dlsym, as rustix and std do for optional libc functions
//! (statx...): on MIPS that crashed when musl's assembly dlsym was entered from non-PIC
//! code without $t9 set (see cross/build.sh).

use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};

unsafe extern "C" {
    fn dlsym(handle: *mut c_void, name: *const c_char) -> *mut c_void;
}

static DROPS: AtomicUsize = AtomicUsize::new(0);

struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

fn main() {
    // RTLD_DEFAULT is a null handle on musl; a static binary finds nothing, but must live.
    let statx = unsafe { dlsym(std::ptr::null_mut(), c"statx".as_ptr()) };
    println!("dlsym(statx): {statx:?}");
    // Depends on the arguments, so the compiler can't see the panic coming.
    let n = std::env::args().count();
    let joined = std::thread::Builder::new()
        .name("session".into())
        .stack_size(128 * 1024)
        .spawn(move || {
            let _g = Guard;
            let v: Vec<usize> = Vec::new();
            v[n]
        })
        .expect("spawn")
        .join();
    let msg = match &joined {
        Err(e) => e.downcast_ref::<String>().cloned().unwrap_or_default(),
        Ok(_) => String::new(),
    };
    let caught = std::panic::catch_unwind(|| {
        let _g = Guard;
        if n > 0 {
            panic!("main-thread panic");
        }
    })
    .is_err();
    let drops = DROPS.load(Ordering::SeqCst);
    println!("thread panic: {msg:?}; catch_unwind: {caught}; destructors run: {drops}");
    if joined.is_err() && msg.contains("index out of bounds") && caught && drops == 2 {
        println!("panic-check: ok");
    } else {
        println!("panic-check: FAILED");
        std::process::exit(1);
    }
}
