fn main() {
    wasmpack_shim::start::main();
}
