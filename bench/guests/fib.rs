//! Naive recursive fibonacci: the same source compiled natively and to
//! wasm32-wasip1, for bench/run-start. It times its own computation, so
//! that process and runtime start-up stay out of the comparison.
use std::time::Instant;

fn fib(n: u64) -> u64 {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

fn main() {
    let n = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(35);
    let started = Instant::now();
    let result = fib(std::hint::black_box(n));
    println!("fib({n}) = {result} in {} us", started.elapsed().as_micros());
}
