//! SIGTERM and SIGINT for the engine process, which is PID 1 in the
//! container: without handlers the kernel drops them and `docker stop`
//! waits for its SIGKILL. A signal moves the engine's epoch, which stops the
//! guest at its next loop or call; a guest blocked in a host call is ended
//! after a grace period.

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use wasmtime::Engine;

/// How long a guest blocked outside wasm code gets to notice.
const GRACE: Duration = Duration::from_secs(2);

static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Starts watching for the signals; the guest on `engine` is stopped when
/// one comes.
pub fn stop_guest_on_signals(engine: &Engine) -> std::io::Result<()> {
    let mut signals = Signals::new([SIGTERM, SIGINT])?;
    let engine = engine.clone();
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            RECEIVED.store(signal, Ordering::SeqCst);
            engine.increment_epoch();
            std::thread::sleep(GRACE);
            std::process::exit(exit_code(signal));
        }
    });
    Ok(())
}

/// The exit code for a stop, as a shell reports a process killed by
/// the signal that came (SIGTERM when none was seen).
pub fn stopped_exit_code() -> i32 {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => exit_code(SIGTERM),
        signal => exit_code(signal),
    }
}

fn exit_code(signal: i32) -> i32 {
    128 + signal
}
