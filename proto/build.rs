//! Generates the gateway client and the LLB messages from the .proto files
//! in this crate, with protox instead of a system `protoc`.

const PROTOS: &[&str] = &["moby/buildkit/gateway.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let descriptors = protox::compile(PROTOS, ["."])?;
    tonic_prost_build::configure()
        // The frontend is only ever a client of the daemon.
        .build_server(false)
        // Sorted maps: LLB is content-addressed, so the same graph must
        // encode to the same bytes on every build (BuildKit's cache keys).
        .btree_map(".")
        .compile_fds(descriptors)?;
    for dir in ["moby", "fsutil", "google"] {
        println!("cargo:rerun-if-changed={dir}");
    }
    Ok(())
}
