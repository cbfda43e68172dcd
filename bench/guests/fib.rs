//! Naive recursive fibonacci: the same source compiled natively and to
//! wasm32-wasip1, for bench/run-start.
fn fib(n: u64) -> u64 {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

fn main() {
    let n = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(35);
    println!("fib({n}) = {}", fib(std::hint::black_box(n)));
}
